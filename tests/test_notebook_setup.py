"""The set-up cell of the colab/ notebooks: where the repository comes from, and the switches.

The first code cell of each notebook (the same in all three) holds the fields REPO_URL,
BRANCH, SMALL and RUN_FULL and the function ``set_up``: inside a checkout it uses that
checkout; elsewhere (Colab) it clones REPO_URL at BRANCH and installs it, and it stops with a
message when REPO_URL is empty or the clone fails. Here the cell's source is executed as it
is (only the REPO_URL/BRANCH lines are filled in), with ``google.colab`` present or absent in
sys.modules, from a checkout or a temporary folder; the repository to clone is a local bare
copy of this one (file:// URL), and pip is never run (the install command is recorded).
"""

import json
import re
import subprocess
import sys
import types
from importlib.machinery import PathFinder
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "colab"
NOTEBOOKS = ["quickstart", "reproduce_paper", "bring_your_own_model"]
BRANCH = "notebook-setup-test"


def setup_cell(name):
    nb = nbformat.read(COLAB / f"{name}.ipynb", as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


@pytest.fixture(scope="module")
def source():
    return setup_cell(NOTEBOOKS[0])


@pytest.fixture(scope="module")
def bare_copy(tmp_path_factory):
    """A bare clone of this repository with the branch BRANCH at its HEAD (also when detached)."""
    path = tmp_path_factory.mktemp("remote") / "copy.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(path)], check=True)
    subprocess.run(["git", "--git-dir", str(path), "branch", BRANCH, "HEAD"], check=True)
    return path


class Cell:
    """Executes the set-up cell like a notebook kernel would, recording subprocess commands."""

    def __init__(self, source, monkeypatch):
        self.source, self.monkeypatch, self.calls = source, monkeypatch, []
        self.pip_returncode = 0
        real_run = subprocess.run

        def run(command, *args, **kwargs):
            self.calls.append([str(c) for c in command])
            if command[0] == "git":
                return real_run(command, *args, **kwargs)
            # pip: never run in the tests
            return subprocess.CompletedProcess(command, self.pip_returncode, "", "pip said no")

        monkeypatch.setattr(subprocess, "run", run)
        monkeypatch.setattr(sys, "path", list(sys.path))  # set_up prepends the root
        monkeypatch.chdir(ROOT)  # and changes the working folder: both restored afterwards

    def __call__(self, folder, *, colab, repo_url="", branch="main", small=True, run_full=None):
        source = self.source
        for field, value in [("REPO_URL", repo_url), ("BRANCH", branch), ("RUN_FULL", run_full)]:
            if value is not None:
                line = re.compile(rf"^{field} = .*$", re.M)
                assert len(line.findall(source)) == 1, field
                source = line.sub(lambda _, f=field, v=value: f"{f} = {v!r}", source)
        self.monkeypatch.setenv("SUBSPACE_NOTEBOOK_SMALL", "1" if small else "0")
        if colab:
            self.monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
        else:
            self.monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        self.monkeypatch.chdir(folder)
        namespace = {"__name__": "__main__"}
        exec(compile(source, "<set-up cell>", "exec"), namespace)
        return namespace

    @property
    def git_calls(self):
        return [c for c in self.calls if c[0] == "git"]

    @property
    def pip_calls(self):
        return [c for c in self.calls if c[0] != "git"]


@pytest.fixture
def cell(source, monkeypatch):
    return Cell(source, monkeypatch)


def test_the_three_notebooks_share_one_setup_cell():
    sources = {name: setup_cell(name) for name in NOTEBOOKS}
    assert len(set(sources.values())) == 1, "the first code cells differ"
    assert "def set_up(repo_url, branch, on_colab" in sources[NOTEBOOKS[0]]


def test_the_fields_are_marked_and_nothing_is_filled_in(source):
    head = source.split("import os")[0]  # the fields come first
    assert re.search(r'^REPO_URL = ""$', head, re.M)
    assert re.search(r'^BRANCH = "main"$', head, re.M)
    assert re.search(r"^# %env SUBSPACE_NOTEBOOK_SMALL=1$", head, re.M)
    assert re.search(r"^RUN_FULL = False$", source, re.M)
    assert re.search(r'^SMALL = os.environ.get\("SUBSPACE_NOTEBOOK_SMALL"\) == "1"$', source, re.M)
    # plain Python (no !git / %cd), so that a failure raises, and no repository URL at all
    assert not re.search(r"^\s*[!%]", source, re.M)
    assert "github.com" not in source and "subspace-dev" not in source


def test_the_install_line_is_the_readme_s(source):
    pip = re.search(r"^PIP_INSTALL = '([^']*)'", source, re.M).group(1)
    assert pip in (ROOT / "README.md").read_text(), f"README no longer says {pip}"


@pytest.mark.parametrize("start", [".", "colab"])
@pytest.mark.parametrize("colab", [False, True])
def test_inside_a_checkout_the_checkout_is_used(cell, start, colab):
    ns = cell(ROOT / start, colab=colab)
    assert ns["ROOT"] == ROOT and Path.cwd() == ROOT
    assert sys.path[0] == str(ROOT)
    assert cell.git_calls == []  # no clone
    if not colab:
        assert cell.calls == []  # nothing installed either
    assert ns["SMALL"] is True and ns["RUNS"] == Path("colab/runs/small")


@pytest.mark.parametrize("colab", [False, True])
def test_an_empty_repo_url_outside_a_checkout_stops_at_once(cell, tmp_path, colab):
    with pytest.raises(RuntimeError, match="REPO_URL is empty") as error:
        cell(tmp_path, colab=colab)
    message = str(error.value)
    assert "set REPO_URL" in message and "BRANCH" in message and "your copy" in message
    assert cell.calls == [] and list(tmp_path.iterdir()) == []
    assert Path.cwd() == tmp_path


@pytest.mark.parametrize("colab", [False, True])
def test_repo_url_is_cloned_and_installed(cell, tmp_path, bare_copy, colab):
    url = bare_copy.as_uri()
    ns = cell(tmp_path, colab=colab, repo_url=url, branch=BRANCH)
    clone = tmp_path / "subspace"
    assert ns["ROOT"] == clone and Path.cwd() == clone and sys.path[0] == str(clone)
    assert cell.git_calls == [["git", "clone", "--depth", "1", "--branch", BRANCH, url, str(clone)]]
    shallow = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--is-shallow-repository"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shallow.stdout.strip() == "true"
    spec = PathFinder.find_spec("subspace", [str(clone)])  # the package of the clone
    assert spec is not None and Path(spec.origin) == clone / "subspace" / "__init__.py"
    assert cell.pip_calls == [[sys.executable, "-m", "pip", "install", "-e", ".[test]"]]

    # run again (a restarted kernel, from the same folder or the clone): the clone is reused
    cell.calls.clear()
    for folder in (tmp_path, clone):
        assert cell(folder, colab=colab, repo_url=url, branch=BRANCH)["ROOT"] == clone
    assert cell.git_calls == []


def test_a_bad_repo_url_stops_with_git_s_error(cell, tmp_path):
    missing = tmp_path / "no-such-repository"
    work = tmp_path / "work"
    work.mkdir()
    git = subprocess.run(
        ["git", "clone", str(missing), str(tmp_path / "probe")], capture_output=True, text=True
    )
    assert git.returncode != 0
    with pytest.raises(RuntimeError, match="git clone of REPO_URL") as error:
        cell(work, colab=True, repo_url=str(missing))
    message = str(error.value)
    fatal = [line for line in git.stderr.splitlines() if line.startswith("fatal:")]
    assert fatal and all(line in message for line in fatal)  # git's own words
    assert "Fix REPO_URL and BRANCH" in message
    assert cell.pip_calls == [] and list(work.iterdir()) == []


def test_a_missing_branch_stops_with_git_s_error(cell, tmp_path, bare_copy):
    with pytest.raises(RuntimeError, match="no-such-branch") as error:
        cell(tmp_path, colab=True, repo_url=bare_copy.as_uri(), branch="no-such-branch")
    assert "fatal:" in str(error.value) or "not found" in str(error.value)
    assert cell.pip_calls == [] and list(tmp_path.iterdir()) == []


def test_a_repository_that_is_not_this_project_stops(cell, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    for command in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(other), *command], check=True)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(RuntimeError, match="not a copy of the subspace repository"):
        cell(work, colab=True, repo_url=other.as_uri())
    assert cell.pip_calls == [] and list(work.iterdir()) == []  # the wrong clone is removed


def test_a_failed_install_stops(cell, tmp_path, bare_copy):
    cell.pip_returncode = 1
    with pytest.raises(RuntimeError, match=r'pip install -e "\.\[test\]" failed') as error:
        cell(tmp_path, colab=True, repo_url=bare_copy.as_uri(), branch=BRANCH)
    assert "pip said no" in str(error.value)


def test_small_mode_and_the_full_mode_opt_in(cell, capsys):
    ns = cell(ROOT, colab=False, small=True)
    assert ns["SMALL"] and ns["long_run"]("a sweep", "1 h") is True
    assert "a sweep" not in capsys.readouterr().out  # small mode always runs, silently

    ns = cell(ROOT, colab=False, small=False)
    assert not ns["SMALL"] and ns["RUN_FULL"] is False
    assert ns["long_run"]("a sweep of d", "about 1 h") is False
    out = capsys.readouterr().out
    assert "a sweep of d" in out and "about 1 h" in out and "set RUN_FULL = True" in out

    ns = cell(ROOT, colab=False, small=False, run_full=True)
    assert ns["long_run"]("a sweep of d", "about 1 h") is True
    out = capsys.readouterr().out
    assert "a sweep of d" in out and "about 1 h" in out and "starting" in out


def test_the_committed_time_of_a_config(cell):
    committed_time = cell(ROOT, colab=False)["committed_time"]
    path = ROOT / "experiments" / "results" / "mnist_fc" / "timings.json"
    if path.is_file():
        members = json.loads(path.read_text())["members"]
        assert set(members) and "min" in committed_time("mnist_fc")
        assert "experiments/results/mnist_fc/timings.json" in committed_time("mnist_fc")
        assert str(ROOT) not in committed_time("mnist_fc")  # a relative path
    assert "not measured" in committed_time("no_such_config")
