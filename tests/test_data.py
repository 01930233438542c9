"""Tests for experiments/data: offline MNIST/CIFAR-10 files, TFDS, variants, batches.

Unit tests write tiny files into tmp_path; the integration tests at the end read the
real copies in ../shared/datasets (relative to the repository root) and skip when absent.
"""

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import data
from experiments.data import tfds_source

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_NAMES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)


# ----------------------------------------------------------------------------- helpers


def _idx(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _mnist_arrays(n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        MNIST_NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        MNIST_NAMES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        MNIST_NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        MNIST_NAMES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def _write_mnist(folder: Path, arrays=None, *, gz: bool = True, raw=None) -> dict:
    """Writes the four idx files; `raw` maps a file name to bytes that replace it."""
    arrays = _mnist_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        content = (raw or {}).get(name, _idx(array))
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)
    return arrays


def _cifar_records(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 10, n)
    return records.tobytes()


def _cifar_files(sizes=(3, 2, 4, 1, 2, 5)) -> dict[str, bytes]:
    return {
        name: _cifar_records(n, seed)
        for seed, (name, n) in enumerate(zip(CIFAR_NAMES, sizes, strict=True))
    }


def _write_cifar_folder(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)


def _write_cifar_tarball(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def _decode_cifar(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Reference decoder, written independently: plane by plane, pixel (r, c) at r * 32 + c."""
    records = np.frombuffer(content, np.uint8).reshape(-1, 3073)
    images = np.empty((len(records), 32, 32, 3), np.uint8)
    for channel in range(3):
        plane = records[:, 1 + channel * 1024 : 1 + (channel + 1) * 1024]
        for r in range(32):
            images[:, r, :, channel] = plane[:, r * 32 : (r + 1) * 32]
    return images, records[:, 0]


def _toy_dataset(n_train: int = 1000, n_test: int = 50, channels: int = 3) -> data.Dataset:
    rng = np.random.default_rng(0)
    return data.Dataset(
        train_x=rng.random((n_train, 4, 5, channels), dtype=np.float32),
        train_y=rng.integers(0, 10, n_train).astype(np.int32),
        test_x=rng.random((n_test, 4, 5, channels), dtype=np.float32),
        test_y=rng.integers(0, 10, n_test).astype(np.int32),
        name="toy",
        num_classes=10,
    )


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)


# ----------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_mnist_files_are_decoded_exactly(tmp_path, gz):
    arrays = _write_mnist(tmp_path, gz=gz)
    ds = data.load_mnist_files(tmp_path)
    assert ds.train_x.shape == (6, 28, 28, 1) and ds.test_x.shape == (4, 28, 28, 1)
    assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int32
    np.testing.assert_array_equal(ds.train_x[..., 0] * 255, arrays[MNIST_NAMES[0]])
    np.testing.assert_array_equal(ds.test_x[..., 0] * 255, arrays[MNIST_NAMES[2]])
    np.testing.assert_array_equal(ds.train_y, arrays[MNIST_NAMES[1]])
    np.testing.assert_array_equal(ds.test_y, arrays[MNIST_NAMES[3]])
    assert (ds.name, ds.num_classes) == ("mnist", 10)


def test_mnist_pixel_255_is_one_and_0_is_zero(tmp_path):
    arrays = _mnist_arrays()
    arrays[MNIST_NAMES[0]][0] = 255
    arrays[MNIST_NAMES[0]][1] = 0
    _write_mnist(tmp_path, arrays)
    ds = data.load_mnist_files(tmp_path)
    assert np.all(ds.train_x[0] == 1.0) and np.all(ds.train_x[1] == 0.0)


def test_mnist_gzip_detected_by_content_not_suffix(tmp_path):
    arrays = _write_mnist(tmp_path, gz=True)
    for name in MNIST_NAMES:  # gzip data under the plain names, as some mirrors serve it
        (tmp_path / f"{name}.gz").rename(tmp_path / name)
    np.testing.assert_array_equal(data.load_mnist_files(tmp_path).train_y, arrays[MNIST_NAMES[1]])


def test_mnist_found_in_subfolder_via_env_var(tmp_path, monkeypatch):
    arrays = _write_mnist(tmp_path / "mnist")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    ds = data.load("mnist", source="files")
    np.testing.assert_array_equal(ds.test_y, arrays[MNIST_NAMES[3]])


def test_mnist_missing_directory_names_files_and_sources(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist_files(tmp_path / "nowhere")
    message = str(info.value)
    for name in MNIST_NAMES:
        assert name in message
    assert "yann.lecun.com" in message and "tfds" in message.lower()


def test_mnist_without_dir_or_env_says_so():
    with pytest.raises(FileNotFoundError, match=data.DATA_DIR_ENV):
        data.load("mnist", source="files")


def test_mnist_one_missing_file_is_named(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="only some") as info:
        data.load_mnist_files(tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(info.value)
    assert "train-images-idx3-ubyte," not in str(info.value)


def _corrupt_cases() -> list:
    a = _mnist_arrays()
    images, labels = _idx(a[MNIST_NAMES[0]]), _idx(a[MNIST_NAMES[1]])
    wrong_dims = _idx(np.zeros((6, 27, 28), np.uint8))
    cases = {
        "truncated": ({MNIST_NAMES[0]: images[:-1]}, "truncated"),
        "trailing": ({MNIST_NAMES[0]: images + b"\x00"}, "trailing"),
        "header-only": ({MNIST_NAMES[0]: images[:10]}, "truncated idx header"),
        "bad-magic": ({MNIST_NAMES[0]: b"\x01" + images[1:]}, "magic"),
        "not-ubyte": ({MNIST_NAMES[1]: labels[:2] + b"\x0d" + labels[3:]}, "magic"),
        "wrong-dims": ({MNIST_NAMES[0]: wrong_dims}, r"\(N, 28, 28\)"),
        "labels-2d": ({MNIST_NAMES[1]: _idx(np.zeros((6, 1), np.uint8))}, r"shape \(N,\)"),
        "count-mismatch": ({MNIST_NAMES[1]: _idx(np.zeros(5, np.uint8))}, "6 images.*5 labels"),
        "label-10": ({MNIST_NAMES[3]: _idx(np.array([0, 1, 10, 2], np.uint8))}, r"\[0, 9\]"),
    }
    return [pytest.param(raw, match, id=case) for case, (raw, match) in cases.items()]


@pytest.mark.parametrize("raw, match", _corrupt_cases())
def test_mnist_corrupt_files_are_refused(tmp_path, raw, match):
    _write_mnist(tmp_path, raw=raw)
    with pytest.raises(ValueError, match=match):
        data.load_mnist_files(tmp_path)


def test_mnist_truncated_gzip_is_refused(tmp_path):
    _write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="gzip"):
        data.load_mnist_files(tmp_path)


def test_parse_idx_reads_shape_from_header():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(data.parse_idx(_idx(array)), array)
    with pytest.raises(ValueError, match="too short"):
        data.parse_idx(b"\x00\x00")


# ----------------------------------------------------------------------------- CIFAR-10


def _assert_cifar_matches(ds: data.Dataset, files: dict[str, bytes]) -> None:
    decoded = [_decode_cifar(files[name]) for name in CIFAR_NAMES]
    train_images = np.concatenate([d[0] for d in decoded[:5]])
    train_labels = np.concatenate([d[1] for d in decoded[:5]])
    assert ds.train_x.shape == (12, 32, 32, 3) and ds.test_x.shape == (5, 32, 32, 3)
    assert ds.train_x.dtype == np.float32 and ds.test_y.dtype == np.int32
    np.testing.assert_array_equal(ds.train_x * 255, train_images)
    np.testing.assert_array_equal(ds.train_y, train_labels)
    np.testing.assert_array_equal(ds.test_x * 255, decoded[5][0])
    np.testing.assert_array_equal(ds.test_y, decoded[5][1])


@pytest.mark.parametrize("layout", ["direct", "batches-bin", "tarball", "cifar10", "cifar10-jpeg"])
def test_cifar_layouts_are_decoded_exactly(tmp_path, layout):
    files = _cifar_files()
    if layout == "direct":
        _write_cifar_folder(tmp_path, files)
    elif layout == "batches-bin":
        _write_cifar_folder(tmp_path / "cifar-10-batches-bin", files)
    elif layout == "tarball":
        _write_cifar_tarball(tmp_path / "cifar-10-binary.tar.gz", files)
    else:
        _write_cifar_tarball(tmp_path / layout / "cifar-10-binary.tar.gz", files)
    _assert_cifar_matches(data.load_cifar10_files(tmp_path), files)


def test_cifar_tarball_path_itself_is_accepted(tmp_path):
    files = _cifar_files()
    _write_cifar_tarball(tmp_path / "cifar-10-binary.tar.gz", files)
    _assert_cifar_matches(data.load_cifar10_files(tmp_path / "cifar-10-binary.tar.gz"), files)


def test_cifar_record_is_label_then_red_green_blue_planes():
    record = bytes([7]) + bytes([10] * 1024 + [20] * 1024 + [30] * 1024)
    images, labels = data.parse_cifar10_records(record)
    assert labels.tolist() == [7]
    assert images.shape == (1, 32, 32, 3)
    assert images[0, 5, 9].tolist() == [10, 20, 30]
    ramp = bytes([0]) + bytes(range(256)) * 12  # red plane: pixel (r, c) = (32 r + c) % 256
    images, _ = data.parse_cifar10_records(ramp)
    assert images[0, 1, 2, 0] == 34 and images[0, 0, 31, 0] == 31


def test_cifar_missing_everything_names_archive_and_site(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load("cifar10", source="files", data_dir=tmp_path)
    message = str(info.value)
    assert "cifar-10-binary.tar.gz" in message and "test_batch.bin" in message
    assert "cs.toronto.edu" in message and "tfds" in message.lower()


def test_cifar_folder_missing_a_batch_is_named(tmp_path):
    files = _cifar_files()
    del files["data_batch_3.bin"]
    _write_cifar_folder(tmp_path, files)
    with pytest.raises(FileNotFoundError, match="data_batch_3.bin"):
        data.load_cifar10_files(tmp_path)


def test_cifar_size_not_multiple_of_record_is_refused(tmp_path):
    files = _cifar_files()
    files["data_batch_2.bin"] = files["data_batch_2.bin"][:-1]
    _write_cifar_folder(tmp_path, files)
    with pytest.raises(ValueError, match="data_batch_2.bin.*multiple of the record size 3073"):
        data.load_cifar10_files(tmp_path)


def test_cifar_empty_file_and_bad_label_are_refused():
    with pytest.raises(ValueError, match="multiple"):
        data.parse_cifar10_records(b"")
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        data.parse_cifar10_records(bytes([10]) + bytes(3072))


def test_cifar_tarball_missing_member_is_refused(tmp_path):
    files = _cifar_files()
    del files["test_batch.bin"]
    _write_cifar_tarball(tmp_path / "cifar-10-binary.tar.gz", files)
    with pytest.raises(ValueError, match="lacks members test_batch.bin"):
        data.load_cifar10_files(tmp_path)


@pytest.mark.parametrize("mode", ["w:gz", "w"], ids=["gzip", "plain-tar"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_cifar_truncated_tarball_is_refused(tmp_path, keep, mode):
    path = tmp_path / "cifar-10-binary.tar.gz"
    _write_cifar_tarball(path, _cifar_files(), mode)
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])
    with pytest.raises(ValueError, match="cifar-10-binary.tar.gz"):
        data.load_cifar10_files(tmp_path)


def test_cifar_not_a_tarball_is_refused(tmp_path):
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(b"this is not a tar archive")
    with pytest.raises(ValueError, match="corrupt or truncated tar"):
        data.load_cifar10_files(tmp_path)


# ----------------------------------------------------------------------------- load()


def test_load_refuses_unknown_name_and_source(tmp_path):
    with pytest.raises(ValueError, match="cifar10.*mnist"):
        data.load("imagenet", data_dir=tmp_path)
    with pytest.raises(ValueError, match="auto.*files.*tfds"):
        data.load("mnist", source="web", data_dir=tmp_path)


def test_load_limit_keeps_first_training_examples(tmp_path):
    arrays = _write_mnist(tmp_path)
    ds = data.load("mnist", data_dir=tmp_path, limit=4)
    np.testing.assert_array_equal(ds.train_y, arrays[MNIST_NAMES[1]][:4])
    np.testing.assert_array_equal(ds.train_x[..., 0] * 255, arrays[MNIST_NAMES[0]][:4])
    assert len(ds.train_x) == 4 and len(ds.test_x) == 4  # test set untouched
    with pytest.raises(ValueError, match=r"limit must be in \[1, 6\]"):
        data.load("mnist", data_dir=tmp_path, limit=7)
    with pytest.raises(ValueError, match="limit must be >= 1"):
        data.load("mnist", data_dir=tmp_path, limit=0)
    with pytest.raises(TypeError, match="limit"):
        data.load("mnist", data_dir=tmp_path, limit=2.0)


def test_load_standardize_uses_training_statistics(tmp_path):
    _write_mnist(tmp_path)
    raw = data.load("mnist", data_dir=tmp_path)
    std = data.load("mnist", data_dir=tmp_path, standardize=True)
    mean, sd = raw.train_x.astype(np.float64).mean(), raw.train_x.astype(np.float64).std()
    assert abs(std.train_x.mean()) < 1e-5 and abs(std.train_x.std() - 1) < 1e-5
    np.testing.assert_allclose(std.test_x, (raw.test_x - mean) / sd, rtol=1e-5, atol=1e-5)
    assert std.train_x.dtype == np.float32


def test_channel_stats_match_float64_reference():
    x = _toy_dataset(n_train=37).train_x
    mean, std = data.channel_stats(x, chunk=5)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(std, x64.std(axis=(0, 1, 2)), rtol=1e-12)


def test_standardize_refuses_constant_channel():
    ds = _toy_dataset()
    ds.train_x[..., 1] = 0.5
    with pytest.raises(ValueError, match="constant channel"):
        data.standardize(ds)


# ----------------------------------------------------------------------------- TFDS


@pytest.fixture
def mock_tfds():
    # USE_CODE needs no metadata files and, through tfds.data_source, no TensorFlow.
    with tfds.testing.mock_data(num_examples=5, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_data_source_shapes_dtypes_and_scaling(mock_tfds, tmp_path, name, shape):
    del mock_tfds
    ds = data.load_tfds(name, data_dir=tmp_path)
    assert ds.train_x.shape == (5, *shape) and ds.test_x.shape == (5, *shape)
    assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int32
    raw = tfds.data_source(name, split="train")
    expected = np.stack([np.asarray(raw[i]["image"]) for i in range(len(raw))])
    assert expected.dtype == np.uint8 and expected.max() > 1
    np.testing.assert_array_equal(ds.train_x, expected.astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.train_y, [raw[i]["label"] for i in range(len(raw))])
    assert ds.train_y.min() >= 0 and ds.train_y.max() < 10


def test_load_auto_falls_back_to_tfds_without_files(mock_tfds, tmp_path):
    del mock_tfds
    ds = data.load("mnist", data_dir=tmp_path / "empty", standardize=True)
    assert ds.train_x.shape == (5, 28, 28, 1)
    assert abs(float(ds.train_x.mean())) < 1e-5  # standardisation applied after TFDS


def test_load_auto_prefers_files(mock_tfds, tmp_path):
    del mock_tfds
    arrays = _write_mnist(tmp_path)
    ds = data.load("mnist", data_dir=tmp_path)
    assert len(ds.train_x) == 6  # the files (6 examples), not the 5 mocked TFDS ones
    np.testing.assert_array_equal(ds.train_y, arrays[MNIST_NAMES[1]])


def test_load_auto_without_files_or_tfds_data_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="(?s)train-images-idx3-ubyte.*TFDS failed too"):
        data.load("mnist", data_dir=tmp_path / "empty", tfds_data_dir=tmp_path / "tfds")


def test_tfds_load_used_when_tensorflow_is_importable(monkeypatch):
    calls = []

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        images = np.full((3, 32, 32, 3), 51, np.uint8)
        return [(images, np.array([1, 2, 3])), (images[:2], np.array([4, 5]))]

    monkeypatch.setattr(tfds_source, "tensorflow_available", lambda: True)
    monkeypatch.setattr(tfds, "load", fake_load)
    ds = data.load("cifar10", source="tfds")
    assert calls[0][0] == "cifar10" and calls[0][1]["batch_size"] == -1
    assert calls[0][1]["split"] == ["train", "test"]
    assert ds.train_x.shape == (3, 32, 32, 3) and np.all(ds.train_x == np.float32(0.2))
    assert ds.test_y.tolist() == [4, 5] and ds.test_y.dtype == np.int32


def test_tfds_wrong_shape_is_refused(monkeypatch):
    images = np.zeros((3, 28, 28, 1), np.uint8)
    monkeypatch.setattr(tfds_source, "tensorflow_available", lambda: True)
    monkeypatch.setattr(tfds, "load", lambda *a, **k: [(images, np.zeros(3))] * 2)
    with pytest.raises(
        ValueError, match=r"cifar10 train: expected images of shape \(N, 32, 32, 3\)"
    ):
        data.load_tfds("cifar10")


# ----------------------------------------------------------------------------- variants


def test_shuffle_pixels_one_permutation_for_all_images_channels_together():
    ds = _toy_dataset()
    out = data.shuffle_pixels(ds, seed=3)
    perm = data.pixel_permutation(4, 5, seed=3)
    assert sorted(perm.tolist()) == list(range(20)) and not np.array_equal(perm, np.arange(20))
    for x, y in ((ds.train_x, out.train_x), (ds.test_x, out.test_x)):
        flat_in, flat_out = x.reshape(len(x), 20, 3), y.reshape(len(y), 20, 3)
        for new_pos in (0, 7, 19):
            # Whole pixels (all channels) move from perm[new_pos] to new_pos.
            np.testing.assert_array_equal(flat_out[:, new_pos], flat_in[:, perm[new_pos]])
    np.testing.assert_array_equal(out.train_y, ds.train_y)
    assert out.name == "toy-shuffled-pixels"


def test_shuffle_pixels_is_seeded():
    ds = _toy_dataset()
    same = data.shuffle_pixels(ds, seed=1)
    np.testing.assert_array_equal(same.test_x, data.shuffle_pixels(ds, seed=1).test_x)
    assert not np.array_equal(same.test_x, data.shuffle_pixels(ds, seed=2).test_x)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 1.0])
def test_shuffle_labels_replaces_a_fraction_of_training_labels(fraction):
    ds = _toy_dataset(n_train=20000)
    out = data.shuffle_labels(ds, fraction=fraction, seed=0)
    changed = np.mean(out.train_y != ds.train_y)
    # A replaced label equals the old one with probability 1/10.
    assert abs(changed - fraction * 0.9) < 0.015
    np.testing.assert_array_equal(out.test_y, ds.test_y)
    assert out.train_y.dtype == np.int32 and out.train_y.min() >= 0 and out.train_y.max() <= 9
    assert out.train_x is ds.train_x
    np.testing.assert_array_equal(ds.train_y, _toy_dataset(n_train=20000).train_y)  # no mutation


def test_shuffle_labels_full_is_uniform_and_seeded():
    ds = _toy_dataset(n_train=20000)
    out = data.shuffle_labels(ds, fraction=1.0, seed=5)
    counts = np.bincount(out.train_y, minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200
    again = data.shuffle_labels(ds, fraction=1.0, seed=5)
    np.testing.assert_array_equal(out.train_y, again.train_y)
    assert not np.array_equal(out.train_y, data.shuffle_labels(ds, fraction=1.0, seed=6).train_y)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"fraction": 0.0, "seed": 0}, ValueError),
        ({"fraction": 1.5, "seed": 0}, ValueError),
        ({"fraction": float("nan"), "seed": 0}, ValueError),
        ({"fraction": True, "seed": 0}, TypeError),
        ({"fraction": "0.5", "seed": 0}, TypeError),
        ({"fraction": 0.5, "seed": -1}, ValueError),
        ({"fraction": 0.5, "seed": 1.5}, TypeError),
    ],
)
def test_shuffle_labels_validates_arguments(kwargs, error):
    with pytest.raises(error, match="fraction|seed"):
        data.shuffle_labels(_toy_dataset(n_train=10), **kwargs)


def test_pixel_permutation_validates_arguments():
    with pytest.raises(ValueError, match="height"):
        data.pixel_permutation(0, 5, seed=0)
    with pytest.raises(TypeError, match="seed"):
        data.pixel_permutation(4, 5, seed=None)


# ----------------------------------------------------------------------------- batches


def test_batches_cover_each_example_once_per_epoch():
    x, y = np.arange(10)[:, None] * 10, np.arange(10)
    got = list(data.batches(x, y, 3, seed=0))
    assert [len(b[1]) for b in got] == [3, 3, 3, 1]
    labels = np.concatenate([b[1] for b in got])
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb * 10)  # x and y stay paired
    assert data.num_batches(10, 3) == 4 and data.num_batches(10, 3, drop_remainder=True) == 3


def test_batches_drop_remainder_and_unshuffled_order():
    x = y = np.arange(10)
    got = list(data.batches(x, y, 4, drop_remainder=True))
    assert [b[1].tolist() for b in got] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batches_epoch_order_is_a_function_of_seed_and_epoch():
    x = y = np.arange(50)

    def order(**kwargs):
        return np.concatenate([b[1] for b in data.batches(x, y, 7, **kwargs)]).tolist()

    assert order(seed=1, epoch=2) == order(seed=1, epoch=2)
    assert order(seed=1, epoch=2) != order(seed=1, epoch=3)
    assert order(seed=1, epoch=0) != order(seed=2, epoch=0)
    rng = np.random.default_rng(0)
    assert order(seed=rng) != order(seed=rng)  # a Generator advances between epochs


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((np.zeros(3), np.zeros(4), 2), {}, ValueError, "same length"),
        ((np.zeros(3), np.zeros(3), 0), {}, ValueError, "batch_size"),
        ((np.zeros(3), np.zeros(3), 2.0), {}, TypeError, "batch_size"),
        ((np.zeros(3), np.zeros(3), 4), {"drop_remainder": True}, ValueError, "exceeds"),
        ((np.zeros(3), np.zeros(3), 2), {"epoch": -1}, ValueError, "epoch"),
        (
            (np.zeros(3), np.zeros(3), 2),
            {"seed": np.random.default_rng(0), "epoch": 1},
            ValueError,
            "Generator",
        ),
    ],
)
def test_batches_validate_arguments_at_call_time(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        data.batches(*args, **kwargs)  # no next(): checked before iteration starts


# ----------------------------------------------------------------------------- real files


@pytest.fixture(scope="module")
def real_mnist():
    if not (SHARED_DATASETS / "mnist").is_dir():
        pytest.skip(f"offline MNIST copy not found at {SHARED_DATASETS / 'mnist'}")
    return data.load("mnist", source="files", data_dir=SHARED_DATASETS)


@pytest.fixture(scope="module")
def real_cifar10():
    if not (SHARED_DATASETS / "cifar10-jpeg").is_dir():
        pytest.skip(f"offline CIFAR-10 copy not found at {SHARED_DATASETS / 'cifar10-jpeg'}")
    return data.load("cifar10", source="files", data_dir=SHARED_DATASETS)


def test_real_mnist_matches_published_facts(real_mnist):
    ds = real_mnist
    assert ds.train_x.shape == (60000, 28, 28, 1) and ds.test_x.shape == (10000, 28, 28, 1)
    assert ds.train_y[:5].tolist() == [5, 0, 4, 1, 9]
    assert ds.test_y[:5].tolist() == [7, 2, 1, 0, 4]
    mean, std = data.channel_stats(ds.train_x)
    assert round(float(mean[0]), 4) == 0.1307 and round(float(std[0]), 4) == 0.3081
    assert ds.train_x.min() == 0.0 and ds.train_x.max() == 1.0


def test_real_cifar10_counts_and_channel_means(real_cifar10):
    ds = real_cifar10
    assert ds.train_x.shape == (50000, 32, 32, 3) and ds.test_x.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.train_y).tolist() == [5000] * 10
    assert np.bincount(ds.test_y).tolist() == [1000] * 10
    # Means of this JPEG-recompressed copy (R, G, B); a wrong channel order would fail.
    mean, _ = data.channel_stats(ds.train_x)
    np.testing.assert_allclose(mean, [0.4913, 0.4821, 0.4465], atol=6e-4)
