"""Packaging: the installed distribution is the library `subspace` alone, with light imports.

`models/` and `experiments/` are folders of the checkout, run from the repository root; they
are never installed as top-level packages. The library needs jax, jaxlib, optax and numpy;
everything else (flax, orbax-checkpoint, tensorflow-datasets, matplotlib, tqdm, ...) is an
extra, and `import subspace` loads none of it.
"""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import subspace

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
DIST_NAME = "subspace-intrinsic"  # `subspace` on the package index is an unrelated project

# What `import subspace` must not load: the checkout's folders and the extras' packages.
NOT_IMPORTED = {
    "models",
    "experiments",
    "orbax",
    "tensorflow_datasets",
    "matplotlib",
    "tqdm",
    "tensorflow",
}
# Packages that only extras may require.
EXTRA_ONLY = {
    "orbax-checkpoint",
    "tensorflow-datasets",
    "matplotlib",
    "tqdm",
    "flax",
    "chex",
    "pytest",
    "hypothesis",
    "nbclient",
    "nbformat",
    "ipykernel",
    "fht-cpu",
}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_import_subspace_loads_no_experiment_or_extra_package(tmp_path):
    # From a folder outside the checkout, with the checkout's root on the path: models/ and
    # experiments/ are importable, and `import subspace` must still load neither of them.
    code = (
        "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')];"
        f"sys.path.insert(0, {str(ROOT)!r}); import subspace;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(NOT_IMPORTED)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_checkpoint_module_imports_orbax_only_when_used(tmp_path):
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r});"
        "import subspace.checkpoint as c, subspace.loop;"
        "assert 'orbax' not in sys.modules, 'orbax imported by subspace.checkpoint';"
        f"c.GroupCheckpoint({str(tmp_path / 'ck')!r});"
        "assert 'orbax.checkpoint' in sys.modules; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_version_has_one_source():
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "subspace.__version__"
    }
    assert re.fullmatch(r"\d+\.\d+\.\d+", subspace.__version__)
    assert subspace.__version__ == "0.5.0"


def test_dependencies_are_what_the_library_imports():
    project = _pyproject()["project"]
    assert project["name"] == DIST_NAME
    deps = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert deps == {"jax", "jaxlib", "optax", "numpy"}
    extras = project["optional-dependencies"]
    # The README's install line `pip install -e ".[test]"` must bring what both commands need.
    test = " ".join(extras["test"])
    assert f"{DIST_NAME}[experiments" in test or "tensorflow-datasets" in test
    assert "pytest" in test and "hypothesis" in test


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built offline from a copy of the checkout (the build writes into its tree)."""
    src = tmp_path_factory.mktemp("src")
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "results", "build", "dist")
    for name in ("subspace", "models", "experiments", "tests"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    out = src / "wheelhouse"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (whl,) = out.glob("*.whl")
    return whl


def test_wheel_holds_only_the_library(wheel):
    assert wheel.name.startswith(DIST_NAME.replace("-", "_") + "-" + subspace.__version__ + "-")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = f"{DIST_NAME.replace('-', '_')}-{subspace.__version__}.dist-info"
    assert top == {"subspace", dist_info}, sorted(top)
    assert "subspace/py.typed" in names
    assert "subspace/projections/__init__.py" in names
    assert f"{dist_info}/licenses/LICENSE" in names


def test_wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        (meta_name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        meta = email.message_from_bytes(z.read(meta_name))
    assert meta["Name"] == DIST_NAME
    assert meta["Version"] == subspace.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    required = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    names = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in required}
    assert names == {"jax", "jaxlib", "optax", "numpy"}, required
    assert not names & EXTRA_ONLY
    extras = set(meta.get_all("Provides-Extra"))
    assert {"checkpoint", "flax", "experiments", "notebooks", "test", "bench"} <= extras


def test_license_changelog_citation():
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    changelog = (ROOT / "CHANGELOG.md").read_text()
    for version in ("0.1.0", "0.2.0", "0.3.0", "0.4.0", subspace.__version__):
        assert re.search(rf"^## \[?{re.escape(version)}\]?", changelog, re.M), version
    citation = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation
    assert re.search(rf"^version: \"?{re.escape(subspace.__version__)}\"?$", citation, re.M)
    assert "Measuring the Intrinsic Dimension of Objective Landscapes" in citation
    assert "1804.08838" in citation
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load(citation)
    assert cff["license"] == "Apache-2.0"
    assert cff["preferred-citation"]["type"] == "conference-paper"
