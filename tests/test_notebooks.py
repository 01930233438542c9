"""The colab/ notebooks run top to bottom in small mode, and their saved outputs are clean.

Each notebook is executed in memory (the committed file is never written) with nbclient, in
a ``python3`` kernel of the running interpreter, from the repository root, with
``SUBSPACE_NOTEBOOK_SMALL=1`` (tens of seconds each on a 2-core CPU). The notebooks read
the offline MNIST copy in ../shared/datasets and are skipped, with the reason, when it is
absent (they would download MNIST through TFDS instead). In full mode (the default
RUN_FULL = False), each notebook must run to its end without starting its long run, after
printing what that run is and how long it takes; there the long runs raise and the rest is
shrunk to a test size.
"""

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")
KernelSpecManager = pytest.importorskip("jupyter_client.kernelspec").KernelSpecManager

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "colab"
DATASETS = ROOT.parent / "shared" / "datasets"
NOTEBOOKS = ["quickstart", "reproduce_paper", "bring_your_own_model"]
MAX_BYTES = 1_000_000


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A JUPYTER_PATH entry holding a ``python3`` kernelspec that runs ``sys.executable``.

    ipykernel's own ``python3`` spec says ``python`` (which jupyter_client maps to
    ``sys.executable``); a user-level spec of the same name may point to another
    interpreter. This one comes first on JUPYTER_PATH, so the kernel is always this venv's.
    """
    path = tmp_path_factory.mktemp("jupyter")
    kernelspec.write_kernel_spec(path / "kernels" / "python3")
    return path


@pytest.fixture
def kernel_env(kernel_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    monkeypatch.setenv("SUBSPACE_NOTEBOOK_SMALL", "1")
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable, spec.argv


def test_the_python3_kernel_is_the_running_interpreter(kernel_env):
    pass  # checked by the fixture


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_small_mode(name, kernel_env):
    nb = nbformat.read(COLAB / f"{name}.ipynb", as_version=4)  # a copy in memory
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(ROOT)}},  # the notebooks run from the root
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots are shown


# Run after the set-up cell in full mode: a long run raises, the rest is made test-sized.
FULL_MODE_GUARD = """
import experiments.data
import experiments.run
import subspace

RUNS = Path({runs!r})
_load, _main, _measure = experiments.data.load, experiments.run.main, subspace.measure


def _long_run_started(*args, **kwargs):
    raise AssertionError("full mode started a long run with RUN_FULL = False")


def _toy_only(argv):  # the toy (30 s) is not a long run; shrunk here to save time
    if argv[0] != "toy":
        _long_run_started()
    subspace.measure = _measure  # the command line measures through the library
    try:
        return _main([*argv, "--smoke", "--projection", "fastfood"])
    finally:
        subspace.measure = _long_run_started


def _load_small(*args, limit=None, **kwargs):  # full mode's data, cut to keep the test short
    return _load(*args, limit=limit or 2048, **kwargs)


experiments.run.main, experiments.data.load = _toy_only, _load_small
subspace.train_group = subspace.measure = _long_run_started
"""


@pytest.mark.skipif(
    not (DATASETS / "mnist").is_dir(),
    reason="the offline MNIST files (../shared/datasets/mnist) are absent",
)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_full_mode_starts_no_long_run_without_run_full(name, kernel_env, monkeypatch, tmp_path):
    """Full mode on "Run all" with the default RUN_FULL = False: each long run says what it
    would run and how long it takes, and is skipped; the notebook runs to its end."""
    monkeypatch.delenv("SUBSPACE_NOTEBOOK_SMALL")
    nb = nbformat.read(COLAB / f"{name}.ipynb", as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    guard = nbformat.v4.new_code_cell(FULL_MODE_GUARD.format(runs=str(tmp_path)))
    nb.cells.insert(first + 1, guard)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "full mode, RUN_FULL = False" in text
    assert text.count("Skipped: set RUN_FULL = True") == 1  # the notebook's one long run
    assert re.search(r"Full mode: .+\.\nTime: about \d+ min", text), text


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_executed_and_clean(name):
    path = COLAB / f"{name}.ipynb"
    assert path.stat().st_size < MAX_BYTES
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    # no badge and no repository URL: no public URL of this repository is known. The first
    # cell says how to open the notebook in Colab from one's own copy instead.
    assert "File > Upload notebook" in first.source
    assert (
        f"colab.research.google.com/github/<owner>/<repo>/blob/<branch>/colab/{name}.ipynb"
        in first.source
    )
    assert "REPO_URL" in first.source and "RUN_FULL" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "saved without executing every cell"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps(outputs) + "".join(c.source for c in nb.cells)
    assert "subspace-dev" not in text
    assert not re.findall(r"github\.com/", text), "a URL of a repository nobody knows to exist"
    assert "colab-badge" not in text
    for machine_path in {str(ROOT), str(Path.home()), "/tmp/"}:
        if len(machine_path) > 1:
            assert machine_path not in text, f"{name} shows an absolute path: {machine_path}"
