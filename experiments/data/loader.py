"""The single entry point `load(name, source=...)`: offline files or TFDS."""

from __future__ import annotations

from experiments.data import cifar10, mnist
from experiments.data import dataset as dataset_lib
from experiments.data.dataset import Dataset, check_name
from experiments.data.paths import PathLike, describe_search, resolve_data_dir
from experiments.data.tfds_source import load_tfds

#: Where `load` reads from: "auto" = offline files if found, else TFDS.
SOURCES = ("auto", "files", "tfds")

_FILE_LOADERS = {"mnist": mnist.load_mnist_files, "cifar10": cifar10.load_cifar10_files}
_FILE_FINDERS = {"mnist": mnist.find_mnist_dir, "cifar10": cifar10.find_cifar10_source}
_MISSING_MESSAGES = {"mnist": mnist.missing_message, "cifar10": cifar10.missing_message}
_SUBDIRS = {"mnist": mnist.MNIST_SUBDIRS, "cifar10": cifar10.CIFAR10_SUBDIRS}


def _missing_files_message(name: str, data_dir: PathLike | None) -> str:
    where = describe_search(resolve_data_dir(data_dir), _SUBDIRS[name])
    return _MISSING_MESSAGES[name](where)


def load(
    name: str,
    *,
    source: str = "auto",
    data_dir: PathLike | None = None,
    tfds_data_dir: PathLike | None = None,
    download: bool = False,
    standardize: bool = False,
    limit: int | None = None,
) -> Dataset:
    """Loads MNIST or CIFAR-10 as numpy arrays, from hand-downloaded files or TFDS.

    Images are float32 NHWC in [0, 1] by default: (N, 28, 28, 1) for MNIST and
    (N, 32, 32, 3) for CIFAR-10; labels are int32.

    Args:
      name: "mnist" or "cifar10".
      source: "files" (offline files, see `experiments.data.paths` for the layout),
        "tfds" (TensorFlow Datasets), or "auto" (files when found, else TFDS; when
        neither works, FileNotFoundError naming the expected files).
      data_dir: folder of the offline files; None reads $SUBSPACE_DATA_DIR.
      tfds_data_dir: TFDS data directory; None uses TFDS's default.
      download: allow TFDS to download and prepare the dataset (default False: no
        network access is attempted).
      standardize: standardise per channel with the mean/std of the (possibly limited)
        training images. Default False: images stay in [0, 1].
      limit: keep only the first `limit` training examples (test set untouched).

    Returns:
      A `Dataset`.

    Raises:
      ValueError: unknown `name` or `source`, bad `limit`, or corrupt files.
      FileNotFoundError: the files are missing (and, for "auto", TFDS failed too).

    Example:
      >>> ds = load("mnist", data_dir="data")  # doctest: +SKIP
      >>> ds.train_x.shape, ds.train_y[:5]  # doctest: +SKIP
      ((60000, 28, 28, 1), array([5, 0, 4, 1, 9], dtype=int32))
    """
    check_name(name)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {list(SOURCES)}, got {source!r}")
    if limit is not None:
        dataset_lib.check_limit(limit)
    if source == "tfds":
        dataset = load_tfds(name, data_dir=tfds_data_dir, download=download)
    elif source == "files" or _FILE_FINDERS[name](data_dir) is not None:
        dataset = _FILE_LOADERS[name](data_dir)
    else:
        try:
            dataset = load_tfds(name, data_dir=tfds_data_dir, download=download)
        except Exception as err:  # TFDS raises many types; all mean "not available".
            raise FileNotFoundError(
                f"{_missing_files_message(name, data_dir)} TFDS failed too: "
                f"{type(err).__name__}: {err}"
            ) from err
    if limit is not None:
        dataset = dataset_lib.take_train(dataset, limit)
    if standardize:
        dataset = dataset_lib.standardize(dataset)
    return dataset
