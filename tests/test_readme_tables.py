"""The README's tables are what the committed results print (regenerated on purpose)."""

from pathlib import Path

import pytest

from experiments import bounds, subspaces, table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"


def _block(start: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split(start)[1].split("<!-- ")[0].strip()


@pytest.mark.parametrize(
    "start, printed",
    [
        ("<!-- table:start (python -m experiments.table) -->", lambda: table.table(RESULTS)),
        ("<!-- bounds:start (python -m experiments.bounds --table) -->", lambda: bounds.table()),
        (
            "<!-- subspaces:start (python -m experiments.subspaces) -->",
            lambda: subspaces.table(RESULTS),
        ),
    ],
    ids=["table1", "bounds", "subspaces"],
)
def test_a_readme_table_is_what_its_command_prints(start, printed):
    assert _block(start) == printed().strip(), f"regenerate it: {start[5:-4]}"


def test_the_subspaces_table_says_what_is_not_run_and_the_command_checks_its_folder(
    tmp_path, capsys
):
    rows = subspaces.table(tmp_path).splitlines()[2:]
    assert len(rows) == 4 * 2 + 4 + 2 + 3 and all("not run yet" in r for r in rows)
    assert (subspaces.plot(tmp_path)).stat().st_size > 0
    with pytest.raises(SystemExit) as exit_:
        subspaces.main(["--results", str(tmp_path / "absent")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and err[-1].endswith(f"no such folder: {tmp_path / 'absent'}")
