"""Result files: written atomically (temporary file, then rename), read back safely."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from subspace._io import atomic_write_bytes

__all__ = ["atomic_write_bytes", "atomic_write_json", "atomic_write_png", "read_json"]


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes ``obj`` as indented JSON, atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def atomic_write_png(fig: Any, path: str | os.PathLike) -> Path:
    """Saves the matplotlib figure ``fig`` as a PNG (120 dpi), atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return atomic_write_bytes(path, buf.getvalue())


def read_json(path: str | os.PathLike) -> Any:
    """Reads a JSON file; a corrupt file raises ValueError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); refusing to use it") from e
