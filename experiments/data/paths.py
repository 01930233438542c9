"""Where the offline dataset files are looked for: `data_dir` or $SUBSPACE_DATA_DIR.

Layout: `data_dir` is either a root holding one folder per dataset,

    <data_dir>/mnist/train-images-idx3-ubyte.gz ...
    <data_dir>/cifar10-jpeg/cifar-10-binary.tar.gz   (or <data_dir>/cifar10/...)

or directly the folder that holds one dataset's files, e.g. `SUBSPACE_DATA_DIR=data` with
`data/mnist/train-images-idx3-ubyte.gz`. (This project's build machines keep offline
copies beside the checkout and point the tests there.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

#: Environment variable read when no `data_dir` argument is given.
DATA_DIR_ENV = "SUBSPACE_DATA_DIR"

PathLike = str | os.PathLike


def resolve_data_dir(data_dir: PathLike | None) -> Path | None:
    """Returns `data_dir`, else $SUBSPACE_DATA_DIR, else None (no offline files).

    Args:
      data_dir: a folder, or None to read the environment variable.

    Returns:
      The folder as a `Path` (not checked for existence), or None.
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or None
    if data_dir is None:
        return None
    return Path(data_dir).expanduser()


def candidate_dirs(root: Path | None, subdirs: Sequence[str]) -> list[Path]:
    """Folders searched, in order: `root/<subdir>` for each subdir, then `root` itself."""
    if root is None:
        return []
    return [root / s for s in subdirs] + [root]


def describe_search(root: Path | None, subdirs: Sequence[str]) -> str:
    """A human-readable sentence saying where files were looked for."""
    if root is None:
        return f"no data_dir was given and ${DATA_DIR_ENV} is not set"
    dirs = ", ".join(str(d) for d in candidate_dirs(root, subdirs))
    return f"searched: {dirs}"
