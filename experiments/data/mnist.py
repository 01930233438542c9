"""MNIST from the four idx files a user downloads by hand (gzip-compressed or not).

File format (idx): a 4-byte magic number 0x00 0x00 <type> <ndim> (type 0x08 =
unsigned byte), then `ndim` big-endian uint32 sizes, then the data in row-major order.
Images are 0x00000803 (N, 28, 28) and labels 0x00000801 (N,).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from experiments.data.dataset import NUM_CLASSES, Dataset, to_float_images
from experiments.data.paths import (
    DATA_DIR_ENV,
    PathLike,
    candidate_dirs,
    describe_search,
    resolve_data_dir,
)

#: The four standard file names; each may also carry a `.gz` suffix.
MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Sub-folders of the data directory searched before the directory itself.
MNIST_SUBDIRS = ("mnist",)

_IDX_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def _file_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def find_mnist_dir(data_dir: PathLike | None = None) -> Path | None:
    """The first candidate folder holding at least one MNIST file, or None.

    Args:
      data_dir: root or direct folder; None reads $SUBSPACE_DATA_DIR.

    Returns:
      The folder, or None when no MNIST file is found anywhere.
    """
    for folder in candidate_dirs(resolve_data_dir(data_dir), MNIST_SUBDIRS):
        if any(_file_path(folder, stem) for stem in MNIST_FILES.values()):
            return folder
    return None


def missing_message(where: str, missing: list[str] | None = None) -> str:
    """The FileNotFoundError message: what is expected, where it was looked for, where to get it.

    Args:
      where: a sentence saying where the files were looked for.
      missing: the missing file names; None means all four.
    """
    wanted = missing if missing is not None else list(MNIST_FILES.values())
    return (
        f"MNIST files not found: {', '.join(wanted)} (each may be gzip-compressed, '.gz'); "
        f"{where}. Get the four files from the official MNIST site (Yann LeCun's MNIST page, "
        "http://yann.lecun.com/exdb/mnist/) or a mirror, and put them in <data_dir>/mnist/ "
        f"(data_dir argument or ${DATA_DIR_ENV}); or use TFDS instead: "
        "load('mnist', source='tfds') (tensorflow_datasets name 'mnist')."
    )


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    # Decide by content, not by suffix: some mirrors serve gzip data under the plain name.
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from err


def parse_idx(data: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """Parses an unsigned-byte idx file, refusing anything that is not exactly well formed.

    Args:
      data: the uncompressed file contents.
      source: a name for error messages (usually the file path).

    Returns:
      A uint8 array with the shape stored in the header.

    Raises:
      ValueError: bad magic number, header shorter than its dimensions, or a data
        section that is truncated or followed by extra bytes.
    """
    if len(data) < 4:
        raise ValueError(f"{source}: {len(data)} bytes, too short for an idx header")
    magic = int.from_bytes(data[:4], "big")
    ndim = data[3]
    if data[:2] != b"\x00\x00" or data[2] != _IDX_UBYTE or ndim == 0:
        raise ValueError(
            f"{source}: bad idx magic number 0x{magic:08x}; expected 0x000008NN "
            "(unsigned bytes, NN dimensions), e.g. 0x00000803 for images, 0x00000801 for labels"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{source}: truncated idx header ({len(data)} bytes, need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{source}: file {kind}: header says shape {dims} ({expected} bytes in all), "
            f"file has {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_split(folder: Path, images_stem: str, labels_stem: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _file_path(folder, images_stem)
    labels_path = _file_path(folder, labels_stem)
    images = parse_idx(_read_bytes(images_path), source=str(images_path))
    labels = parse_idx(_read_bytes(labels_path), source=str(labels_path))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise ValueError(f"{labels_path}: labels must be in [0, 9], found {labels.max()}")
    return images, labels


def load_mnist_files(data_dir: PathLike | None = None) -> Dataset:
    """Loads MNIST from the four standard idx files (`.gz` or uncompressed).

    Every file is read and checked before any array is returned; nothing is half-loaded.

    Args:
      data_dir: a root holding `mnist/` or the folder holding the files directly; None
        reads $SUBSPACE_DATA_DIR.

    Returns:
      `Dataset` with train_x (60000, 28, 28, 1) and test_x (10000, 28, 28, 1) float32 in
      [0, 1], labels int32 (for the standard files).

    Raises:
      FileNotFoundError: a file is missing; the message lists the expected names and
        where to get them.
      ValueError: a file is corrupt, truncated, has the wrong magic number or shape, or
        images and labels disagree in number.
    """
    folder = find_mnist_dir(data_dir)
    if folder is None:
        where = describe_search(resolve_data_dir(data_dir), MNIST_SUBDIRS)
        raise FileNotFoundError(missing_message(where))
    missing = [stem for stem in MNIST_FILES.values() if _file_path(folder, stem) is None]
    if missing:
        raise FileNotFoundError(missing_message(f"only some were found, in {folder}", missing))
    train_x, train_y = _read_split(folder, MNIST_FILES["train_images"], MNIST_FILES["train_labels"])
    test_x, test_y = _read_split(folder, MNIST_FILES["test_images"], MNIST_FILES["test_labels"])
    return Dataset(
        train_x=to_float_images(train_x)[..., None],
        train_y=train_y.astype(np.int32),
        test_x=to_float_images(test_x)[..., None],
        test_y=test_y.astype(np.int32),
        name="mnist",
        num_classes=NUM_CLASSES,
    )
