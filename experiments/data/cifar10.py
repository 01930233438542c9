"""CIFAR-10 from the official binary version (`cifar-10-binary.tar.gz` or its folder).

File format: `data_batch_1.bin` ... `data_batch_5.bin` (training, 10,000 records each)
and `test_batch.bin` (10,000 records); each record is 1 label byte and 3,072 pixel
bytes: 1,024 red, then 1,024 green, then 1,024 blue, each a row-major 32x32 plane.

Note on this project's offline copy (`../shared/datasets/cifar10-jpeg`): it is NOT a
bit-exact CIFAR-10. It was rebuilt from JPEG copies of the images (quality about 75) and
its training records were shuffled; class counts are exact, pixels carry JPEG loss
(per-channel train means 0.4913/0.4821/0.4465 vs 0.4914/0.4822/0.4465 canonical).
Accuracies measured on it may differ slightly from the literature.
"""

from __future__ import annotations

import tarfile
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

CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_FILES = (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE)
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-bin"
#: Sub-folders of the data directory searched before the directory itself.
CIFAR10_SUBDIRS = ("cifar10-jpeg", "cifar10")
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: Bytes per record: 1 label + 3 x 32 x 32 pixels.
RECORD_BYTES = 1 + 3 * 32 * 32


def find_cifar10_source(data_dir: PathLike | None = None) -> Path | None:
    """Where the CIFAR-10 binary files are: an extracted folder, a tarball, or None.

    In each candidate folder (see `experiments.data.paths`) the extracted
    `cifar-10-batches-bin/` is preferred (faster), then `cifar-10-binary.tar.gz`, then
    `.bin` files lying directly in the folder. `data_dir` may also name the tarball.

    Args:
      data_dir: root, direct folder or tarball; None reads $SUBSPACE_DATA_DIR.

    Returns:
      A folder holding `.bin` files, the path of a tarball, or None when nothing is found.
    """
    root = resolve_data_dir(data_dir)
    if root is not None and root.is_file():
        return root
    for folder in candidate_dirs(root, CIFAR10_SUBDIRS):
        if (folder / CIFAR10_FOLDER).is_dir():
            return folder / CIFAR10_FOLDER
        if (folder / CIFAR10_ARCHIVE).is_file():
            return folder / CIFAR10_ARCHIVE
        if any((folder / name).is_file() for name in CIFAR10_FILES):
            return folder
    return None


def missing_message(where: str, missing: list[str] | None = None) -> str:
    """The FileNotFoundError message: what is expected, where it was looked for, where to get it.

    Args:
      where: a sentence saying where the files were looked for.
      missing: the missing file names; None means the archive or all six batch files.
    """
    wanted = (
        ", ".join(missing)
        if missing is not None
        else f"{CIFAR10_ARCHIVE}, or its folder {CIFAR10_FOLDER}/ with {', '.join(CIFAR10_FILES)}"
    )
    return (
        f"CIFAR-10 binary files not found: {wanted}; {where}. Get the binary version "
        f"({CIFAR10_ARCHIVE}) from the official CIFAR-10 site (Alex Krizhevsky's page, "
        "https://www.cs.toronto.edu/~kriz/cifar.html) and put it in <data_dir>/cifar10/ "
        f"(data_dir argument or ${DATA_DIR_ENV}); or use TFDS instead: "
        "load('cifar10', source='tfds') (tensorflow_datasets name 'cifar10')."
    )


def _read_folder(folder: Path) -> dict[str, bytes]:
    missing = [name for name in CIFAR10_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(missing_message(f"only some were found, in {folder}", missing))
    return {name: (folder / name).read_bytes() for name in CIFAR10_FILES}


def _read_tarball(path: Path) -> dict[str, bytes]:
    """Reads the six batch files from the tarball without extracting it to disk."""
    found: dict[str, bytes] = {}
    try:
        # Iterate members in stored order: a gzip stream cannot seek back cheaply.
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = Path(member.name).name
                if not member.isfile() or name not in CIFAR10_FILES:
                    continue
                if name in found:
                    raise ValueError(f"{path}: member {name} appears more than once")
                handle = tar.extractfile(member)
                data = handle.read() if handle is not None else b""
                if len(data) != member.size:
                    raise ValueError(f"{path}: member {member.name} is truncated")
                found[name] = data
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated tar archive ({err})") from err
    missing = [name for name in CIFAR10_FILES if name not in found]
    if missing:
        raise ValueError(f"{path}: tar archive lacks members {', '.join(missing)}")
    return found


def parse_cifar10_records(data: bytes, *, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Parses CIFAR-10 binary records into NHWC uint8 images and uint8 labels.

    Args:
      data: the contents of one `.bin` file, a whole number of 3,073-byte records.
      source: a name for error messages.

    Returns:
      (images, labels): (N, 32, 32, 3) uint8 in R, G, B order, and (N,) uint8.

    Raises:
      ValueError: empty data, a size that is not a multiple of 3,073, or a label > 9.
    """
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise ValueError(
            f"{source}: size {len(data)} bytes is not a positive multiple of the record size "
            f"{RECORD_BYTES} (1 label byte + 3072 pixel bytes); the file is truncated or not "
            "CIFAR-10 binary"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    if labels.max() >= NUM_CLASSES:
        raise ValueError(f"{source}: labels must be in [0, 9], found {labels.max()}")
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def load_cifar10_files(data_dir: PathLike | None = None) -> Dataset:
    """Loads CIFAR-10 from the official binary files (tarball or extracted folder).

    The tarball is read member by member with `tarfile`; nothing is extracted to disk.
    Every file is checked before any array is returned; nothing is half-loaded. The
    training set is the concatenation of batches 1 to 5 in order.

    This project's offline copy (`../shared/datasets/cifar10-jpeg`) is JPEG-recompressed,
    not bit-exact CIFAR-10: see the module docstring.

    Args:
      data_dir: a root holding `cifar10-jpeg/` or `cifar10/`, the folder holding the
        tarball or `.bin` files, or the tarball itself; None reads $SUBSPACE_DATA_DIR.

    Returns:
      `Dataset` with train_x (50000, 32, 32, 3) and test_x (10000, 32, 32, 3) float32
      in [0, 1], NHWC, channels R, G, B; labels int32 (for the standard files).

    Raises:
      FileNotFoundError: no files, or an extracted folder missing some of them.
      ValueError: a corrupt or truncated archive or file, missing tarball members.
    """
    source = find_cifar10_source(data_dir)
    if source is None:
        where = describe_search(resolve_data_dir(data_dir), CIFAR10_SUBDIRS)
        raise FileNotFoundError(missing_message(where))
    files = _read_tarball(source) if source.is_file() else _read_folder(source)
    parsed = {
        name: parse_cifar10_records(data, source=f"{source}:{name}") for name, data in files.items()
    }
    del files
    train_x = np.concatenate([parsed[name][0] for name in CIFAR10_TRAIN_FILES])
    train_y = np.concatenate([parsed[name][1] for name in CIFAR10_TRAIN_FILES])
    test_x, test_y = parsed[CIFAR10_TEST_FILE]
    return Dataset(
        train_x=to_float_images(train_x),
        train_y=train_y.astype(np.int32),
        test_x=to_float_images(test_x),
        test_y=test_y.astype(np.int32),
        name="cifar10",
        num_classes=NUM_CLASSES,
    )
