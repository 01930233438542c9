"""The benchmark's printed summary: plain-text tables of a benchmark document."""

from __future__ import annotations

from experiments.benchmark.hadamard import label

__all__ = ["format_summary"]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(str(c).rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def _mb(nbytes: int | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**20:.2f}"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def _steps_table(records: list[dict]) -> str:
    rows = []
    for r in records:
        d = "-" if r["d"] is None else f"{r['d']:,}"
        head = [r["model"], f"{r['D']:,}", r["projection"], d]
        if r["status"] != "ok":
            rows.append([*head, "skipped", "", "", "", "", ""])
            continue
        step = r["step_s"]
        rows.append(
            [
                *head,
                _ms(step["median_s"]),
                _ms(step["iqr_s"]),
                _x(r["ratio_to_plain"]),
                f"{r['compile_s']:.2f}",
                _mb(r["temp_bytes"]),
                _x(r["temp_ratio_to_plain"]),
            ]
        )
    header = ["model", "D", "projection", "d", "ms/step", "IQR ms", "x plain"]
    header += ["compile s", "temp MB", "temp x"]
    return _table(header, rows)


def _fwht_table(fwht: dict) -> str:
    rows = [
        [
            label(r),
            _ms(r["fwht_s"]["median_s"]),
            _ms(r["butterfly_s"]["median_s"]),
            _ms(r["fht_cpu_s"]["median_s"] if r["fht_cpu_s"] else None),
            _x(r["ratio"]),
            "-" if r["equal"] is None else ("yes" if r["equal"] else "NO"),
        ]
        for r in fwht["rows"]
    ]
    header = ["n", "fwht ms", "butterfly ms", "fht_cpu ms", "fwht / fht_cpu", "equal"]
    table = _table(header, rows)
    return table if fwht["status"] == "ok" else f"{table}\n(fht_cpu: {fwht['reason']})"


def _memory_table(records: list[dict]) -> str:
    rows = [
        [r["model"], r["projection"], f"{r['d']:,}", f"{r['bytes_per_parameter']:.2f}"]
        for r in records
    ]
    return _table(["model", "projection", "d", "state bytes/param"], rows)


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _seconds(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _es_table(es: dict) -> str:
    """Batched against sequential ES: wall time and environment steps per second."""
    lockstep = es["lockstep_training_steps"] or {}
    rows = [
        [
            run,
            _seconds(es[f"{run}_s"]),
            _rate(es[f"{run}_steps_per_s"]),
            _seconds(es[f"steady_{run}_s"]),
            _rate(es[f"steady_{run}_steps_per_s"]),
            _seconds(es[f"compile_{run}_s"]),
            f"{lockstep[run]:,}" if run in lockstep else "-",
        ]
        for run in ("batched", "sequential")
    ]
    header = ["run", "end to end s", "steps/s", "steady s", "steady steps/s", "compile s"]
    return _table([*header, "lockstep steps"], rows)


def format_es(es: dict) -> str:
    """The ES comparison's title line, table and checks."""
    members = (
        f"{es['members']} members (d in {sorted(set(es['ds']))} x seeds {sorted(set(es['seeds']))})"
    )
    load = es["load_average_at_start"]
    same = "yes" if es["final_fitness_equal"] and es["max_z_difference"] == 0 else "NO"
    return "\n".join(
        [
            f"\nES on {es['env']} (D = {es['D']}, {es['projection']}), {members}, "
            f"{es['generations']} generations of {es['population']}: "
            f"{es['env_steps']:,} environment steps",
            _es_table(es),
            f"speed-up (sequential / batched): end to end {_x(es['speedup'])}x, steady "
            f"{_x(es['steady_speedup'])}x (median of {es['steady_repeats']}); same members "
            f"trained (final fitness and z equal): {same}; load average at start "
            f"{load[0]:.2f}" + (" (measured with --only es)" if es.get("measured") else ""),
        ]
    )


def _targets_table(targets: list[dict]) -> str:
    rows = []
    for t in targets:
        value = "-" if t["value"] is None else f"{t['value']:.4g}"
        verdict = {True: "pass", False: "FAIL", None: "n/a"}[t["passed"]]
        rows.append([t["target"], value, f"{t['comparison']} {t['limit']:g}", verdict])
    return _table(["target", "value", "limit", "result"], rows)


def format_summary(doc: dict) -> str:
    """The whole summary of a benchmark document, as text."""
    m = doc["machine"]
    settings = doc["settings"]
    parts = [
        f"benchmark{' (--quick)' if doc['quick'] else ''}: {m['backend']} ({m['device_kind']}), "
        f"{m['cpu_count']} CPUs, jax {m['jax_version']}, load average at start "
        f"{m['load_average_at_start']}; medians of {settings['repeats']} repeats, "
        f"wall time {doc['wall_time_s']:.1f} s",
        f"\nTime per training step (batch {settings['batch_size']}, Adam)",
        _steps_table(doc["steps"]),
        f"\nTime per step against D (d = {settings['scaling_d']:,})",
        _steps_table(doc["scaling"]),
        "\nWalsh-Hadamard transform, float32, 1-D (fwht / fht_cpu)",
        _fwht_table(doc["fwht"]),
    ]
    sweep = doc["sweep"]
    parts.append(
        f"\nSweep of {sweep['members']} values of d ({sweep['model']}, {sweep['projection']}, "
        f"{sweep['steps']} steps, end to end): batched {sweep['batched_s']:.1f} s, "
        f"sequential {sweep['sequential_s']:.1f} s, speed-up {sweep['speedup']:.2f}x "
        f"(max |z difference| {sweep['max_z_difference']:.1e})"
    )
    if doc.get("es"):
        parts.append(format_es(doc["es"]))
    parts += ["\nProjection state", _memory_table(doc["memory"])]
    parts += ["\nTargets", _targets_table(doc["targets"])]
    return "\n".join(parts)
