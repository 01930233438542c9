"""Test order (the slowest files first) and one XLA compilation cache for the whole run.

``pytest`` runs the files on two worker processes (pytest-xdist, ``--dist loadfile`` in
pyproject.toml): each file runs whole, in its own order, on one worker, and a worker takes
the next file when it is free. Starting the long files first (the whole-job runs, the
notebooks, the subprocess tests) leaves the many short files to fill the gaps at the end,
instead of one worker running a long file alone while the other waits. Within a file the
order is unchanged; the files not named here follow in their usual (alphabetical) order.

Most of a test's time is XLA compiling the same few programs again (the toy's sweep, a
smoke config's step) in another test, worker, subprocess or notebook kernel. The run
shares one persistent compilation cache (JAX's own, ``JAX_COMPILATION_CACHE_DIR``, in a
fresh temporary folder removed at the end; the workers, subprocesses and kernels inherit
it), so a program compiled once is loaded after that: the same executables, compiled on
this machine in this run. A run that sets ``JAX_COMPILATION_CACHE_DIR`` itself keeps it.
The grouping's step times (``SUBSPACE_CACHE_DIR``) go to the same folder, not the user's.
"""

import os
import shutil
import tempfile

import pytest

_CACHE = pytest.StashKey[str]()

# Longest first (each file's total test time, measured on a 2-core CPU with
# --junitxml): handing out the longest files first gives the two workers about equal
# shares. A file missing from this list only runs later, so the list needs no upkeep to
# stay correct.
SLOW_FIRST = [
    "test_projections.py",
    "test_study.py",
    "test_rl.py",
    "test_notebooks.py",
    "test_run.py",
    "test_dqn.py",
    "test_bounds.py",
    "test_measurement.py",
    "test_said.py",
    "test_benchmark.py",
    "test_loop.py",
    "test_run_safety.py",
    "test_flax_tasks.py",
    "test_estimators.py",
    "test_properties.py",
    "test_multiprocess.py",
    "test_sweep.py",
    "test_lottery.py",
    "test_wrap.py",
    "test_sharding.py",
    "test_compress.py",
    "test_theta0.py",
    "test_configs.py",
]


def pytest_configure(config):
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # the controller, before any worker
        folder = tempfile.mkdtemp(prefix="subspace-tests-xla-cache-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
        os.environ.setdefault("SUBSPACE_CACHE_DIR", folder)
        config.stash[_CACHE] = folder


def pytest_unconfigure(config):
    folder = config.stash.get(_CACHE, None)
    if folder is not None:  # the process that made it
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ["JAX_COMPILATION_CACHE_DIR"]
        if os.environ.get("SUBSPACE_CACHE_DIR") == folder:
            del os.environ["SUBSPACE_CACHE_DIR"]


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # a stable sort
