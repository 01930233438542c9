"""The README's tables are what the committed results print (regenerated on purpose)."""

from pathlib import Path

import pytest

from experiments import bounds, table

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
    ],
    ids=["table1", "bounds"],
)
def test_a_readme_table_is_what_its_command_prints(start, printed):
    assert _block(start) == printed().strip(), f"regenerate it: {start[5:-4]}"
