"""The colab/ notebooks run top to bottom in small mode, and their saved outputs are clean.

Each notebook is executed in memory (the committed file is never written) with nbclient, in
a ``python3`` kernel of the running interpreter, from the repository root, with
``SUBSPACE_NOTEBOOK_SMALL=1`` (tens of seconds each on a 2-core CPU). The notebooks read
the offline MNIST copy in ../shared/datasets and are skipped, with the reason, when it is
absent (they would download MNIST through TFDS instead).
"""

import json
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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_executed_and_clean(name):
    path = COLAB / f"{name}.ipynb"
    assert path.stat().st_size < MAX_BYTES
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert "colab.research.google.com/github/" in first.source
    assert f"/blob/main/colab/{name}.ipynb" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "saved without executing every cell"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps(outputs) + "".join(c.source for c in nb.cells)
    for machine_path in {str(ROOT), str(Path.home()), "/tmp/"}:
        if len(machine_path) > 1:
            assert machine_path not in text, f"{name} shows an absolute path: {machine_path}"
