"""Test order: the slowest files first.

``pytest`` runs the files on two worker processes (pytest-xdist, ``--dist loadfile`` in
pyproject.toml): each file runs whole, in its own order, on one worker, and a worker takes
the next file when it is free. Starting the long files first (the whole-job runs, the
notebooks, the subprocess tests) leaves the many short files to fill the gaps at the end,
instead of one worker running a long file alone while the other waits. Within a file the
order is unchanged; the files not named here follow in their usual (alphabetical) order.
"""

# Longest first (measured on a 2-core CPU with --durations); a file missing from this list
# only runs later, so the list needs no upkeep to stay correct.
SLOW_FIRST = [
    "test_run.py",
    "test_run_safety.py",
    "test_notebooks.py",
    "test_measurement.py",
    "test_rl.py",
    "test_benchmark.py",
    "test_properties.py",
    "test_loop.py",
    "test_sweep.py",
    "test_checkpoint.py",
    "test_multiprocess.py",
    "test_sharding.py",
]


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # a stable sort
