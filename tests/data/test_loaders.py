"""Loaders on real files (slices of the shared datasets) and on broken ones."""

import functools
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data
from sprig.data import (
    load_cifar10,
    load_csv,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_npz,
    read_idx,
)
from sprig.errors import ConfigError, DataError

DIGITS_SHA256 = {
    "x_train": "d72c0f737856675ae263c05b743819235c68f45ea04409f8d79ada377a487e0f",
    "y_train": "a2471153d71f70a0ded1b54f33855569525eeff4057e6714acd641041905f0a1",
    "x_test": "44761d89f8e49daebc987fa4f848a40a0485a849c9da5b13a4d9f9d78b6ef9cb",
    "y_test": "85127d38d0fb39a6cdcd246d297cf22e48756f9d1d97699a4a18662f3154f0e9",
}
IDX = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def idx_bytes(a: np.ndarray) -> bytes:
    """LeCun idx encoding of a uint8 array: magic 0x0000 08 ndim, big-endian dims, data."""
    head = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return head + np.ascontiguousarray(a, dtype=np.uint8).tobytes()


@functools.cache
def _head(name: str) -> dict[str, np.ndarray]:
    with np.load(shared_data(name)) as f:
        return {k: f[k][:64] for k in IDX}


def small(name: str, n_train: int = 64, n_test: int = 32) -> dict[str, np.ndarray]:
    """The first rows of a shared dataset (read once per session)."""
    h = _head(name)
    return {k: h[k][: n_train if k.endswith("train") else n_test].copy() for k in IDX}


def write_idx(folder: Path, arrays, gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


def assert_same(ds, arrays):
    for part in ("train", "test"):
        x = arrays[f"x_{part}"]
        np.testing.assert_array_equal(getattr(ds, f"x_{part}"), x.reshape(len(x), -1))
        np.testing.assert_array_equal(getattr(ds, f"y_{part}"), arrays[f"y_{part}"])


# ------------------------------------------------------------------------------ digits


def test_digits_embedded_arrays_match_documented_digests():
    from importlib import resources

    raw = resources.files("sprig.data").joinpath("digits.npz").read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as f:
        for key, digest in DIGITS_SHA256.items():
            assert hashlib.sha256(np.ascontiguousarray(f[key]).tobytes()).hexdigest() == digest
    ds = load_digits()
    assert ds.x_train.shape == (1438, 64) and ds.x_test.shape == (359, 64)
    assert ds.num_classes == 10 and ds.image_shape == (1, 8, 8) and ds.pixel_max == 16
    assert ds.x_train.max() == 16 and ds.x_train.min() == 0


def test_digits_loads_without_sklearn():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "from sprig.data import load_digits\n"
        "ds = load_digits(); assert 'sklearn' not in [m.split('.')[0] for m in sys.modules "
        "if sys.modules[m] is not None]\n"
        "print(ds.x_train.shape[0] + ds.x_test.shape[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1797"


def test_digits_equal_sklearn_copy():
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = datasets.load_digits()
    ds = load_digits()
    with np.load(Path(__file__).parents[2] / "src/sprig/data/digits.npz") as f:
        tr, te = f["train_idx"], f["test_idx"]
    np.testing.assert_array_equal(ds.x_train, bunch.data[tr])
    np.testing.assert_array_equal(ds.y_test, bunch.target[te])


# ------------------------------------------------------------------------------ MNIST idx


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_equals_npz(tmp_path, gz):
    arrays = small("mnist")
    write_idx(tmp_path / "raw", arrays, gz)
    ds = load_mnist(tmp_path / "raw")
    assert_same(ds, arrays)
    assert ds.image_shape == (1, 28, 28) and ds.pixel_max == 255 and ds.num_classes == 10
    np.savez(tmp_path / "mnist.npz", **arrays)
    assert_same(load_mnist(tmp_path / "mnist.npz"), arrays)


def test_fashion_mnist_idx_and_folder_npz(tmp_path):
    arrays = small("fashion_mnist")
    write_idx(tmp_path / "idx", arrays, gz=True)
    assert_same(load_fashion_mnist(tmp_path / "idx"), arrays)
    (tmp_path / "npz").mkdir()
    np.savez_compressed(tmp_path / "npz" / "fashion_mnist.npz", **arrays)
    ds = load_fashion_mnist(tmp_path / "npz")
    assert_same(ds, arrays)
    assert ds.name == "fashion_mnist"


def test_idx_header_errors(tmp_path):
    good = idx_bytes(np.zeros((3, 2, 2), np.uint8))
    p = tmp_path / "f"
    p.write_bytes(b"")
    with pytest.raises(DataError, match=re.escape(str(p)) + ".*empty"):
        read_idx(p)
    p.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(DataError, match="bad idx magic"):
        read_idx(p)
    p.write_bytes(good[:-1])
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)
    p.write_bytes(good + b"\x00")
    with pytest.raises(DataError, match="corrupt"):
        read_idx(p)
    p.write_bytes(good)
    with pytest.raises(DataError, match=r"magic 2051.*expected 1"):
        read_idx(p, ndim=1)
    g = tmp_path / "f.gz"
    g.write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(DataError, match=re.escape(str(g))):
        read_idx(g)
    g.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=re.escape(str(g))):
        read_idx(g)


def test_mnist_missing_and_mismatched(tmp_path):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\].*mnist\.npz"):
        load_mnist(tmp_path)
    with pytest.raises(DataError, match="nothere"):
        load_mnist(tmp_path / "nothere")
    arrays = {k: v[:4] for k, v in small("mnist", 8, 8).items()}
    write_idx(tmp_path, arrays, gz=False)
    (tmp_path / IDX["y_test"]).unlink()
    with pytest.raises(DataError, match=r"missing idx file\(s\) t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    (tmp_path / IDX["y_test"]).write_bytes(idx_bytes(arrays["y_test"][:3]))
    with pytest.raises(DataError, match="4 images but t10k-labels-idx1-ubyte has 3 labels"):
        load_mnist(tmp_path)


# ------------------------------------------------------------------------------ CIFAR-10


def cifar_records(x_hwc: np.ndarray, y: np.ndarray) -> bytes:
    planar = x_hwc.transpose(0, 3, 1, 2).reshape(len(x_hwc), -1)  # R plane, G plane, B plane
    return np.concatenate([y[:, None].astype(np.uint8), planar], axis=1).tobytes()


def test_cifar_binary_equals_npz(tmp_path):
    arrays = small("cifar10_subset", 50, 10)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for i in range(5):
        sl = slice(10 * i, 10 * (i + 1))
        (folder / f"data_batch_{i + 1}.bin").write_bytes(
            cifar_records(arrays["x_train"][sl], arrays["y_train"][sl])
        )
    (folder / "test_batch.bin").write_bytes(cifar_records(arrays["x_test"], arrays["y_test"]))
    from_bin = load_cifar10(tmp_path)  # the folder holding cifar-10-batches-bin
    np.savez(tmp_path / "c.npz", **arrays)
    from_npz = load_cifar10(tmp_path / "c.npz")
    for ds in (from_bin, from_npz):
        assert ds.image_shape == (3, 32, 32) and ds.num_classes == 10
        np.testing.assert_array_equal(ds.y_train, arrays["y_train"])
    np.testing.assert_array_equal(from_bin.x_train, from_npz.x_train)
    np.testing.assert_array_equal(from_bin.x_test, from_npz.x_test)
    # Channel-planar: the first 1024 features are the red plane, row-major.
    img = arrays["x_train"][7]
    np.testing.assert_array_equal(from_npz.x_train[7, :1024], img[..., 0].ravel())
    np.testing.assert_array_equal(from_npz.x_train[7, 2048:], img[..., 2].ravel())
    assert_same(load_cifar10(folder), {**arrays, "x_train": from_npz.x_train,
                                       "x_test": from_npz.x_test})  # fmt: skip


def test_cifar_binary_errors(tmp_path):
    rec = cifar_records(np.zeros((2, 32, 32, 3), np.uint8), np.array([1, 2]))
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}.bin").write_bytes(rec)
    with pytest.raises(DataError, match=r"test_batch\.bin.*does not exist"):
        load_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(rec[:-5])
    with pytest.raises(DataError, match=r"test_batch\.bin has 6141 bytes.*truncated"):
        load_cifar10(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(b"\x0b" + rec[1:])
    with pytest.raises(DataError, match="label byte 11"):
        load_cifar10(tmp_path)
    with pytest.raises(DataError, match="cifar-10-batches-bin"):
        load_cifar10(tmp_path / "sub" if (tmp_path / "sub").mkdir() is None else None)


# ------------------------------------------------------------------------------ npz / Nerva


def test_npz_generic_and_nerva_keys(tmp_path):
    arrays = small("madelon", 40, 20)
    np.savez(tmp_path / "m.npz", **arrays, extra=np.arange(3))
    ds = load_npz(tmp_path / "m.npz")
    assert_same(ds, arrays)
    assert ds.name == "m" and ds.pixel_max is None and ds.num_classes == 2

    x, y = arrays["x_train"].astype(np.float32), arrays["y_train"]
    onehot = np.eye(2)[y]
    np.savez(tmp_path / "n1.npz", Xtrain=x, Ttrain=onehot, Xtest=x[:5], Ttest=np.eye(2)[y[:5]])
    n1 = load_npz(tmp_path / "n1.npz")
    np.testing.assert_array_equal(n1.y_train, y)
    np.testing.assert_array_equal(n1.x_train, x)
    # Integer T, and column-wise Nerva files with X stored as (D, N).
    np.savez(tmp_path / "n2.npz", Xtrain=x.T, Ttrain=y, Xtest=x[:5].T, Ttest=y[:5, None])
    n2 = load_dataset(tmp_path / "n2.npz", kind="nerva")
    np.testing.assert_array_equal(n2.x_train, x)
    np.testing.assert_array_equal(n2.y_test, y[:5])
    np.savez(tmp_path / "n3.npz", Xtrain=x, Ttrain=onehot * 2, Xtest=x, Ttest=onehot)
    with pytest.raises(DataError, match="not one-hot"):
        load_npz(tmp_path / "n3.npz")


def test_npz_hwc_images_become_channel_planar(tmp_path):
    x = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    np.savez(tmp_path / "img.npz", x_train=x, y_train=[0, 1], x_test=x, y_test=[1, 0])
    ds = load_npz(tmp_path / "img.npz")
    assert ds.image_shape == (3, 4, 5) and ds.pixel_max == 255
    np.testing.assert_array_equal(ds.x_train, x.transpose(0, 3, 1, 2).reshape(2, -1))


def _corrupt_files(tmp_path):
    good = tmp_path / "good.npz"
    arrays = {k: np.zeros((4, 3)) if k[0] == "x" else np.zeros(4, int) for k in IDX}
    np.savez_compressed(good, **arrays)
    raw = good.read_bytes()
    files = {
        "empty": b"",
        "truncated": raw[: len(raw) // 2],
        "garbage": b"PK\x03\x04" + bytes(range(256)) * 4,
        "text": b"hello world, not numpy\n",
    }
    out = {}
    for name, data in files.items():
        p = tmp_path / f"{name}.npz"
        p.write_bytes(data)
        out[name] = p
    np.save(tmp_path / "single.npy", np.zeros(3))
    out["single"] = tmp_path / "single.npy"
    np.savez(tmp_path / "pickled.npz", x_train=np.array([{"a": 1}], dtype=object),
             y_train=[0], x_test=np.zeros((1, 1)), y_test=[0])  # fmt: skip
    out["pickled"] = tmp_path / "pickled.npz"
    np.savez(tmp_path / "wrongkeys.npz", a=np.zeros(2))
    out["wrongkeys"] = tmp_path / "wrongkeys.npz"
    return out


@pytest.mark.parametrize(
    "which", ["empty", "truncated", "garbage", "text", "single", "pickled", "wrongkeys"]
)
def test_npz_corrupt_files(tmp_path, which):
    path = _corrupt_files(tmp_path)[which]
    with pytest.raises(DataError, match=re.escape(str(path))):
        load_npz(path)


def test_npz_nan_rejected(tmp_path):
    x = np.ones((4, 2))
    x[1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", x_train=x, y_train=[0, 1, 0, 1], x_test=x[:1] * 0, y_test=[0])
    with pytest.raises(DataError, match="NaN/inf"):
        load_npz(tmp_path / "nan.npz")


# ------------------------------------------------------------------------------ CSV


def test_csv_with_header_stratified_split(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, (40, 3)).astype(float)
    y = np.repeat([0, 1], 20)
    body = "\n".join(",".join(f"{v:g}" for v in (*row, lab)) for row, lab in zip(x, y, strict=True))
    (tmp_path / "t.csv").write_text("a,b,c,label\n" + body + "\n")
    ds = load_csv(tmp_path / "t.csv", test_fraction=0.25, seed=1)
    assert len(ds.y_train) == 30 and len(ds.y_test) == 10
    assert np.bincount(ds.y_test).tolist() == [5, 5]
    all_x = np.concatenate([ds.x_train, ds.x_test])
    assert sorted(map(tuple, all_x)) == sorted(map(tuple, x.astype(np.float32)))
    again = load_dataset(tmp_path / "t.csv", test_fraction=0.25, seed=1)
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    # Label in the first column, no header, labels -1/+1 mapped to 0/1.
    body2 = "\n".join(
        ",".join(f"{v:g}" for v in (2 * lab - 1, *row)) for row, lab in zip(x, y, strict=True)
    )
    (tmp_path / "u.csv").write_text(body2)
    ds2 = load_csv(tmp_path / "u.csv", label_column=0, test_fraction=0.0)
    np.testing.assert_array_equal(ds2.y_train, y)
    np.testing.assert_array_equal(ds2.x_train, x)
    assert ds2.x_test.shape == (0, 3)


def test_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("")
    with pytest.raises(DataError, match=re.escape(f"{p} is empty")):
        load_csv(p)
    p.write_text("1,2,0\n3,x,1\n")
    with pytest.raises(DataError, match="not a numeric CSV"):
        load_csv(p)
    p.write_text("1,2,0.5\n3,4,1\n")
    with pytest.raises(DataError, match="integers"):
        load_csv(p)
    p.write_text("1,2,0\n3,4,1\n")
    with pytest.raises(ConfigError, match="label_column 5"):
        load_csv(p, label_column=5)
    with pytest.raises(DataError, match=r"missing\.csv"):
        load_csv(tmp_path / "missing.csv")


# ------------------------------------------------------------------------------ dispatcher


def test_load_dataset_names_and_root(tmp_path, monkeypatch):
    arrays = small("mnist", 20, 10)
    (tmp_path / "mnist").mkdir()
    np.savez(tmp_path / "mnist" / "mnist.npz", **arrays)
    (tmp_path / "tiny").mkdir()
    np.savez(tmp_path / "tiny" / "tiny.npz", **arrays)
    assert_same(load_dataset("mnist", root=tmp_path), arrays)
    monkeypatch.setenv("SPRIG_DATA", str(tmp_path))
    ds = load_dataset("tiny")
    assert ds.name == "tiny" and ds.image_shape == (1, 28, 28)
    with pytest.raises(DataError, match=r"expected .*nope[/\\]nope\.npz"):
        load_dataset("nope")
    monkeypatch.delenv("SPRIG_DATA")
    with pytest.raises(DataError, match="SPRIG_DATA"):
        load_dataset("mnist")
    assert load_dataset("digits").name == "digits"
    with pytest.raises(ConfigError, match="unknown dataset kind"):
        load_dataset("digits", kind="parquet")
    with pytest.raises(ConfigError, match="label_column"):
        load_dataset("mnist", root=tmp_path, label_column=0)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "x.npz")


def test_load_dataset_shared_root():
    root = shared_data("cifar10_subset").parents[1]
    ds = load_dataset("cifar10_subset", root=root)
    assert ds.image_shape == (3, 32, 32) and ds.x_train.shape == (4000, 3072)
    assert json.dumps(ds.image_shape)  # plain ints
