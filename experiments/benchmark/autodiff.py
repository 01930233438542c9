"""Fastfood training step before and after forward-mode autodiff (``linear_map``).

``python -m experiments.benchmark.autodiff [--repeats 21] [--d 1000] [--out FILE]``

Times the jitted, donated Adam step of the MNIST FC (784-200-200-10, D = 199,210) at
batch 128 for: plain training (all D parameters), and subspace training with fastfood
(default and ``shared_input``) through the OLD projection (``jax.custom_vjp``, the code
before version 0.3, copied below) and the NEW one (the library's, built on
:func:`subspace.projections.linear_map`). Both subspace losses compute the task loss at
θ0 + P z with θ0 and the projection's state passed in the batch, as in
:mod:`experiments.benchmark.steps`; ``new-wrap`` goes through ``Subspace.params`` as the
project's benchmark does. The variants are interleaved repeat by repeat (in a shuffled
order each round), so a change of load on a shared machine hits all of them alike;
medians over the repeats, and the load average before and after. It also says whether
XLA compiled the old and the new step to the same program (then any difference in time is
noise).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import optax

import subspace
from experiments.benchmark.steps import random_batch, subspace_loss
from experiments.benchmark.timing import load_average, machine_info, summarize
from models.fc import FC
from subspace import projections
from subspace.hadamard import fwht
from subspace.projections import block_size_for
from subspace.train import Trainer

__all__ = ["main", "old_fastfood_apply"]


def old_fastfood_apply(D: int, d: int, *, shared_input: bool = False) -> Any:  # noqa: N803
    """Fastfood's ``apply`` before forward mode: a ``jax.custom_vjp`` around the same
    forward pass and explicit transpose (verbatim, without the argument checks)."""
    L = block_size_for(d)  # noqa: N806 -- the paper's symbol
    blocks = math.ceil(D / L)

    def H(x):  # noqa: N802
        return fwht(x, method="kronecker")

    def forward(state, z):
        x = state.B.astype(z.dtype) * jnp.pad(z, (0, L - d))
        x = H(x)
        if shared_input:
            x = x[0][state.perm]
        else:
            x = jnp.take_along_axis(x, state.perm, axis=-1)
        x = H(state.G * x) * state.scale[:, None]
        return x.reshape(-1)[:D]

    def transpose(state, g):
        x = jnp.pad(g, (0, blocks * L - D)).reshape(blocks, L) * state.scale[:, None]
        x = jnp.take_along_axis(state.G * H(x), state.inv_perm, axis=-1)
        if shared_input:
            return (state.B[0].astype(g.dtype) * H(jnp.sum(x, axis=0)))[:d]
        return jnp.sum(state.B.astype(g.dtype) * H(x), axis=0)[:d]

    @jax.custom_vjp
    def project(state, z):
        return forward(state, z)

    project.defvjp(
        lambda state, z: (forward(state, z), state), lambda s, g: (None, transpose(s, g))
    )
    return jax.jit(project)


def explicit_loss(task_loss: Any, apply: Any, unravel: Any) -> Any:
    """The task loss at θ0 + apply(state, z), with (θ0, state) in the batch."""

    def loss_fn(z, model_state, batch, key):
        (theta0, state), data = batch
        return task_loss(unravel(theta0 + apply(state, z)), model_state, data, key)

    return loss_fn


def program_text(compiled: Any) -> str:
    """XLA's optimised program without source metadata and instruction names, to compare
    two compiled steps for identity."""
    lines = [line for line in compiled.as_text().splitlines() if not re.match(r'^\d+ [{"]', line)]
    text = re.sub(r", metadata=\{[^}]*\}|stack_frame_id=\d+", "", "\n".join(lines))
    return re.sub(r"%[\w.-]+", "%_", text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--min-repeat-s", type=float, default=0.2)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    load_before = load_average()

    task = subspace.linen_task(FC(width=200, depth=2), (28, 28, 1))
    init_key, proj_key, train_key, data_key = jax.random.split(jax.random.key(0), 4)
    params, model_state = task.init(init_key)
    batch = random_batch((28, 28, 1), args.batch_size, key=data_key)
    optimizer = optax.adam(1e-3)

    steps: dict[str, tuple[Trainer, Any, Any]] = {
        "plain": (subspace.make_trainer(task.loss_fn, optimizer), params, batch)
    }
    for shared in (False, True):
        suffix = "-shared" if shared else ""
        sub = subspace.wrap(params, args.d, key=proj_key, shared_input=shared)
        D = sub.D  # noqa: N806
        new = projections.fastfood(D, args.d, shared_input=shared).apply
        old = old_fastfood_apply(D, args.d, shared_input=shared)
        explicit = (sub.theta0, sub.state), batch
        for label, apply in (("old", old), ("new", new)):
            loss = explicit_loss(task.loss_fn, apply, sub.unravel)
            steps[label + suffix] = (subspace.make_trainer(loss, optimizer), sub.zeros(), explicit)
        if not shared:
            loss = subspace_loss(task.loss_fn)
            steps["new-wrap"] = (subspace.make_trainer(loss, optimizer), sub.zeros(), (sub, batch))

    runs = {}
    for label, (trainer, z, data) in steps.items():
        state = trainer.init(z, key=jax.random.fold_in(train_key, 0), model_state=model_state)
        start = time.perf_counter()
        compiled = trainer.step.lower(state, data).compile()
        compile_s = time.perf_counter() - start
        state = jax.block_until_ready(trainer.step(state, data)[0])
        runs[label] = {
            "trainer": trainer,
            "state": state,
            "data": data,
            "compile_s": compile_s,
            "program": program_text(compiled),
        }

    def run(label: str, calls: int) -> float:
        r = runs[label]
        state = r["state"]
        start = time.perf_counter()
        for _ in range(calls):
            state, _ = r["trainer"].step(state, r["data"])  # the old state is donated
        jax.block_until_ready(state)
        r["state"] = state
        return time.perf_counter() - start

    for label, r in runs.items():  # warm up, and calls per repeat for min_repeat_s
        calls = 1
        while (elapsed := run(label, calls)) < args.min_repeat_s:
            calls = max(2 * calls, math.ceil(1.2 * calls * args.min_repeat_s / elapsed))
        r["calls"] = calls
        r["samples"] = []

    order = list(runs)
    rng = random.Random(0)
    for _ in range(args.repeats):
        rng.shuffle(order)
        for label in order:
            runs[label]["samples"].append(run(label, runs[label]["calls"]) / runs[label]["calls"])

    plain = summarize(runs["plain"]["samples"], runs["plain"]["calls"])["median_s"]
    results = {
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "d": args.d,
        "batch_size": args.batch_size,
        "steps": {},
    }
    for label, r in runs.items():
        step = summarize(r["samples"], r["calls"])
        results["steps"][label] = {
            **step,
            "compile_s": r["compile_s"],
            "ratio_to_plain": step["median_s"] / plain,
        }
    for suffix in ("", "-shared"):
        same = runs["new" + suffix]["program"] == runs["old" + suffix]["program"]
        results[f"same_compiled_step{suffix}"] = same
        new, old = results["steps"]["new" + suffix], results["steps"]["old" + suffix]
        results[f"new_over_old{suffix}"] = new["median_s"] / old["median_s"]
        # The per-round ratio new/old (same round, adjacent in time): its median.
        new_s, old_s = runs["new" + suffix]["samples"], runs["old" + suffix]["samples"]
        paired = statistics.median(n / o for n, o in zip(new_s, old_s, strict=True))
        results[f"new_over_old{suffix}_paired_median"] = paired

    print(
        f"MNIST FC, D = {runs['new-wrap']['data'][0].D:,}, d = {args.d:,}, "
        f"batch {args.batch_size}, Adam; {args.repeats} interleaved repeats"
    )
    print(f"load average before {load_before}, after {results['load_average_after']}")
    for label, s in results["steps"].items():
        print(
            f"  {label:12s} {s['median_s'] * 1e3:8.3f} ms/step (IQR {s['iqr_s'] * 1e3:.3f}, "
            f"{s['calls_per_repeat']} calls/repeat)  {s['ratio_to_plain']:.3f}x plain  "
            f"compile {s['compile_s']:.2f} s"
        )
    for suffix in ("", "-shared"):
        print(
            f"  new / old{suffix}: {results['new_over_old' + suffix]:.3f} (medians), "
            f"{results['new_over_old' + suffix + '_paired_median']:.3f} (median of per-round); "
            "compiled steps identical (XLA's optimised HLO, up to names and metadata): "
            f"{results['same_compiled_step' + suffix]}"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
