"""The issue's performance targets, read from a benchmark document, with pass/fail."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["TARGETS", "evaluate_targets"]

FC, LENET = "MNIST FC", "MNIST LeNet"


def _step(doc: dict, model: str, projection: str, d: int | None) -> dict | None:
    for r in doc.get("steps", []):
        if (r["model"], r["projection"], r["d"]) == (model, projection, d) and r["status"] == "ok":
            return r
    return None


def _ratio(model: str, projection: str, d: int) -> Callable[[dict], float | None]:
    def value(doc):
        r = _step(doc, model, projection, d)
        return None if r is None else r["ratio_to_plain"]

    return value


def _flat_in_d(doc: dict) -> float | None:
    low, high = _step(doc, FC, "fastfood", 100), _step(doc, FC, "fastfood", 10_000)
    if low is None or high is None:
        return None
    return high["step_s"]["median_s"] / low["step_s"]["median_s"]


def _fwht_worst(doc: dict) -> float | None:
    ratios = [
        r["ratio"]
        for r in doc.get("fwht", {}).get("rows", [])
        if 16 <= r["log2_n"] <= 20 and len(r.get("shape", [r["n"]])) == 1 and r["ratio"] is not None
    ]
    return max(ratios) if ratios else None


def _sweep_speedup(doc: dict) -> float | None:
    return (doc.get("sweep") or {}).get("speedup")


def _fastfood_state(doc: dict) -> float | None:
    for r in doc.get("memory", []):
        if (r["model"], r["projection"], r["d"]) == (FC, "fastfood", 1000):
            return r["bytes_per_parameter"]
    return None


def _temporaries(doc: dict) -> float | None:
    r = _step(doc, FC, "fastfood", 1000)
    return None if r is None else r["temp_ratio_to_plain"]


# (target, comparison, limit, value of a document or None when it was not measured)
TARGETS = (
    ("fastfood step / plain, MNIST FC, d = 1000", "<=", 2.0, _ratio(FC, "fastfood", 1000)),
    ("fastfood step / plain, MNIST LeNet, d = 300", "<=", 1.3, _ratio(LENET, "fastfood", 300)),
    ("sparse step / plain, MNIST FC, d = 1000", "<=", 2.0, _ratio(FC, "sparse", 1000)),
    ("fastfood flat in d: step d = 10,000 / d = 100, MNIST FC", "<=", 1.3, _flat_in_d),
    ("fwht / fht_cpu, worst of n = 2^16 .. 2^20", "<=", 3.0, _fwht_worst),
    ("16-member batched sweep speed-up, end to end", ">=", 1.5, _sweep_speedup),
    ("fastfood state, bytes per parameter, MNIST FC, d = 1000", "<=", 16.0, _fastfood_state),
    ("fastfood step temporaries / plain, MNIST FC, d = 1000", "<=", 2.0, _temporaries),
)


def evaluate_targets(doc: dict) -> list[dict]:
    """Every target's measured value and whether it passes (None: not measured)."""
    results = []
    for name, comparison, limit, value_of in TARGETS:
        value = value_of(doc)
        if value is None:
            passed = None
        elif comparison == "<=":
            passed = value <= limit
        else:
            passed = value >= limit
        results.append(
            {
                "target": name,
                "comparison": comparison,
                "limit": limit,
                "value": value,
                "passed": passed,
                "note": None if value is not None else _missing(name, doc),
            }
        )
    return results


def _missing(name: str, doc: dict) -> str:
    if name.startswith("fwht") and doc.get("fwht", {}).get("status") == "skipped":
        return doc["fwht"]["reason"]
    return "not measured in this run"
