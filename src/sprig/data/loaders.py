r"""Dataset loaders: NumPy ``.npz`` (sprig's and Nerva's keys), MNIST/Fashion-MNIST idx files,
CIFAR-10 binary batches, numeric CSV, and the embedded digits set.

Every loader returns a validated :class:`~sprig.data.datasets.Dataset` with raw values
(``float32``, not normalized; see :mod:`sprig.data.normalization`). Every failure is a
:class:`~sprig.errors.DataError` naming the file: missing files say which name is expected
where; empty, truncated or corrupt files say so. Pickled data is never loaded
(``allow_pickle=False`` everywhere).

Image feature order is **channel-planar** ``(C, H, W)`` for every source. The CIFAR-10 binary
files store each record as 1 label byte followed by 1024 red, 1024 green and 1024 blue bytes
(row-major 32×32), which is exactly that order; an ``.npz`` with images of shape
``(N, 32, 32, 3)`` (``HWC``, as in ``shared/data/cifar10_subset``) is transposed to
``(N, 3, 32, 32)`` before flattening, so both sources give identical rows. (Nerva's C++ reader
reorders to interleaved ``R1 G1 B1 R2 ...`` instead; a network trained here expects planar.)

Named datasets: ``load_dataset("mnist")`` reads ``<root>/mnist/mnist.npz`` (or idx files in
``<root>/mnist/``), where ``root`` is the ``root=`` argument or else the environment variable
``SPRIG_DATA`` (e.g. ``export SPRIG_DATA=/path/to/shared/data``). ``"digits"`` needs no root.
"""

from __future__ import annotations

import gzip
import inspect
import io
import os
import zipfile
import zlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..io import is_zip_file, npz_problem
from ..specs.registry import LOADERS
from ..typing import IntArray
from .datasets import Dataset, stratified_choice

#: Environment variable holding the folder of named datasets (``<root>/<name>/<name>.npz``).
DATA_ENV = "SPRIG_DATA"
#: ``kind=`` values accepted by :func:`load_dataset`.

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_NERVA_KEYS = ("Xtrain", "Ttrain", "Xtest", "Ttest")
_CORRUPT = (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error, KeyError, MemoryError)

PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------- npz


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, read eagerly so corruption surfaces here."""
    if not path.is_file():
        raise DataError(f"expected an .npz file at {path}, but it does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); expected an .npz archive")
    if not is_zip_file(path):
        raise DataError(f"{path} is not a readable .npz archive (not a zip file)")
    try:
        problem = npz_problem(path)
    except _CORRUPT as e:
        raise DataError(f"{path} is not a readable .npz archive (corrupt or truncated): {e}") from e
    if problem:
        raise DataError(f"{path} is not a readable .npz archive: {problem}")
    try:
        # Our own handle: np.load leaks the file it opened when the zip directory is bad.
        with open(path, "rb") as fh:
            f = np.load(fh, allow_pickle=False)
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise DataError(f"{path} holds a single .npy array; expected an .npz archive")
            with f:
                return {k: np.asarray(f[k]) for k in f.files}
    except DataError:
        raise
    except _CORRUPT as e:
        raise DataError(f"{path} is not a readable .npz archive (corrupt or truncated): {e}") from e


def _load_npz_bytes(data: bytes, where: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            return {k: np.asarray(f[k]) for k in f.files}
    except _CORRUPT as e:
        raise DataError(f"{where} is not a readable .npz archive: {e}") from e


def _images(x: np.ndarray, path: Any, key: str) -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """Flatten samples to rows; images go channel-planar. Returns rows and ``(C, H, W)``."""
    if x.ndim == 1:
        raise DataError(f"{path}: {key} must have shape (N, features...), got {x.shape}")
    if x.ndim == 2:
        return x, None
    if x.ndim == 3:  # (N, H, W) grayscale
        return x.reshape(len(x), -1), (1, x.shape[1], x.shape[2])
    if x.ndim == 4:
        chw = x.shape[1] in (1, 3) and x.shape[3] not in (1, 3)
        if not chw and x.shape[3] in (1, 3, 4):  # (N, H, W, C)
            x = x.transpose(0, 3, 1, 2)
        c, h, w = x.shape[1:]
        return np.ascontiguousarray(x).reshape(len(x), -1), (c, h, w)
    raise DataError(f"{path}: {key} has {x.ndim} dimensions; expected 2 (N, D), 3 or 4 (images)")


def _targets(t: np.ndarray, path: Any, key: str) -> tuple[IntArray, int | None]:
    """Nerva targets: integer labels, a column of labels, or one-hot rows (→ argmax)."""
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim == 1:
        return t, None
    if t.ndim == 2:
        ok = np.all((t == 0) | (t == 1)) and np.all(t.sum(axis=1) == 1)
        if not ok:
            raise DataError(f"{path}: {key} is 2-D but not one-hot (rows of 0/1 summing to 1)")
        return np.argmax(t, axis=1), t.shape[1]
    raise DataError(f"{path}: {key} must be labels (N,) or one-hot (N, K), got {t.shape}")


def _dataset_from_npz(
    arrays: Mapping[str, np.ndarray],
    path: Any,
    name: str,
    *,
    pixel_max: float | None = None,
) -> Dataset:
    if all(k in arrays for k in _NPZ_KEYS):
        xk, yk = ("x_train", "x_test"), ("y_train", "y_test")
        width = None
        ys = [arrays[k] for k in yk]
    elif all(k in arrays for k in _NERVA_KEYS):
        xk, yk = ("Xtrain", "Xtest"), ("Ttrain", "Ttest")
        (ytr, ktr), (yte, kte) = (_targets(arrays[k], path, k) for k in yk)
        if ktr is not None and kte is not None and ktr != kte:
            raise DataError(f"{path}: one-hot widths differ: Ttrain {ktr}, Ttest {kte}")
        width = ktr or kte
        ys = [ytr, yte]
    else:
        raise DataError(
            f"{path} has keys {sorted(arrays)}; expected {', '.join(_NPZ_KEYS)} "
            f"or Nerva's {', '.join(_NERVA_KEYS)}"
        )
    xs, shapes = [], []
    for k, y in zip(xk, ys, strict=True):
        x = arrays[k]
        if k.startswith("X") and x.ndim == 2 and x.shape[0] != len(y) and x.shape[1] == len(y):
            x = x.T  # Nerva's column-wise files store X as (D, N)
        x, shape = _images(x, path, k)
        xs.append(x)
        shapes.append(shape)
    if pixel_max is None and all(arrays[k].dtype == np.uint8 for k in xk):
        pixel_max = 255.0
    return Dataset.from_arrays(
        xs[0], ys[0], xs[1], ys[1], name=name, num_classes=width,
        image_shape=shapes[0], pixel_max=pixel_max,
    )  # fmt: skip


@LOADERS.register("npz", aliases=("nerva",), doc="sprig or Nerva .npz (x_train, y_train, ...)")
def load_npz(path: PathLike, *, name: str | None = None) -> Dataset:
    """Load a dataset from an ``.npz`` archive.

    Keys ``x_train, y_train, x_test, y_test`` (sprig, Keras, ``shared/data``) or Nerva's
    ``Xtrain, Ttrain, Xtest, Ttest``, where ``T`` may be integer labels or one-hot rows
    (then ``num_classes`` is the one-hot width). Samples are flattened to rows: ``(N, H, W)``
    gives ``image_shape=(1, H, W)``; a 4-D array whose last axis is 1, 3 or 4 is taken as
    ``(N, H, W, C)`` and made channel-planar, unless axis 1 is 1 or 3 and the last axis is
    not (then it is already ``(N, C, H, W)``). A 2-D Nerva ``X`` of shape
    ``(D, N)`` (column-wise files) is transposed. ``uint8`` features set ``pixel_max=255``.
    Other keys are ignored.

    Raises:
        DataError: the file is missing, empty, corrupt, has neither key set, or the arrays
            fail :class:`Dataset` validation.
    """
    p = Path(path)
    return _dataset_from_npz(_read_npz(p), p, name or p.stem)


# --------------------------------------------------------------------------------- idx

_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {path} (corrupt or truncated gzip?): {e}") from e


def read_idx(path: PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read one idx file (LeCun's MNIST format), optionally gzip-compressed (``.gz``).

    Header: two zero bytes, a type code (``0x08`` = ubyte, ...), the number of dimensions,
    then each dimension as a big-endian uint32; the data follow in row-major order. So the
    magic number of image files is 2051 (ubyte, 3 dims) and of label files 2049.

    Raises:
        DataError: missing/empty/truncated file, bad magic number, unexpected dimensions, or a
            data size that does not match the header.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"expected idx file {p}, but it does not exist")
    raw = _read_bytes(p)
    if len(raw) < 4:
        raise DataError(f"{p} is empty or truncated ({len(raw)} bytes); expected an idx header")
    magic = int.from_bytes(raw[:4], "big")
    code, nd = raw[2], raw[3]
    if raw[0] or raw[1] or code not in _IDX_DTYPES or nd == 0:
        raise DataError(f"{p}: bad idx magic number {magic} (0x{magic:08x}); expected e.g. 2051 "
                        "for images or 2049 for labels")  # fmt: skip
    if ndim is not None and nd != ndim:
        raise DataError(f"{p}: idx file has {nd} dimension(s) (magic {magic}); expected {ndim}")
    head = 4 + 4 * nd
    if len(raw) < head:
        raise DataError(f"{p} is truncated inside its idx header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - head != expected:
        raise DataError(
            f"{p}: header says shape {dims} ({expected} data bytes) but the file has "
            f"{len(raw) - head}; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=head).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


_IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _idx_file(folder: Path, stem: str) -> Path | None:
    variants = (stem, stem.replace("-idx", ".idx"))
    for v in variants:
        for suffix in ("", ".gz"):
            p = folder / f"{v}{suffix}"
            if p.is_file():
                return p
    return None


def _load_idx_folder(folder: Path, name: str) -> Dataset:
    found = {k: _idx_file(folder, s) for k, s in _IDX_STEMS.items()}
    missing = [f"{_IDX_STEMS[k]}[.gz]" for k, p in found.items() if p is None]
    if missing:
        raise DataError(f"{folder}: missing idx file(s) {', '.join(missing)}")
    arrays = {k: read_idx(p, ndim=3 if k.startswith("x") else 1) for k, p in found.items()}  # type: ignore[arg-type]
    for part in ("train", "test"):
        nx, ny = len(arrays[f"x_{part}"]), len(arrays[f"y_{part}"])
        if nx != ny:
            raise DataError(
                f"{folder}: {found[f'x_{part}'].name} has {nx} images but "  # type: ignore[union-attr]
                f"{found[f'y_{part}'].name} has {ny} labels"  # type: ignore[union-attr]
            )
    return _dataset_from_npz(arrays, folder, name)


def _load_mnist_like(path: PathLike, name: str) -> Dataset:
    p = Path(path)
    if p.is_dir():
        if any(_idx_file(p, s) for s in _IDX_STEMS.values()):
            return _load_idx_folder(p, name)
        npz = p / f"{name}.npz"
        if npz.is_file():
            return _dataset_from_npz(_read_npz(npz), npz, name)
        raise DataError(
            f"{p}: expected the idx files {', '.join(s + '[.gz]' for s in _IDX_STEMS.values())} "
            f"or {name}.npz in this folder"
        )
    if not p.exists():
        raise DataError(f"expected {name} data at {p} (a folder of idx files or an .npz file)")
    return _dataset_from_npz(_read_npz(p), p, name)


@LOADERS.register("mnist", doc="MNIST idx files or mnist.npz")
def load_mnist(path: PathLike) -> Dataset:
    """MNIST from a folder of the official idx files (``.gz`` or not) or from an ``.npz``.

    The folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``; the
    ``train-images.idx3-ubyte`` spelling is accepted too) or ``mnist.npz``. Features are raw
    0..255 (``pixel_max=255``), ``image_shape=(1, 28, 28)``.
    """
    return _load_mnist_like(path, "mnist")


@LOADERS.register("fashion_mnist", doc="Fashion-MNIST idx files or .npz")
def load_fashion_mnist(path: PathLike) -> Dataset:
    """Fashion-MNIST: the file names and formats of :func:`load_mnist`, or ``fashion_mnist.npz``."""
    return _load_mnist_like(path, "fashion_mnist")


# --------------------------------------------------------------------------------- CIFAR-10

CIFAR_RECORD = 1 + 3 * 32 * 32
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = "test_batch.bin"


def _read_cifar_bin(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError(f"expected CIFAR-10 batch file {path}, but it does not exist")
    raw = path.read_bytes()
    if len(raw) == 0 or len(raw) % CIFAR_RECORD:
        raise DataError(
            f"{path} has {len(raw)} bytes, not a positive multiple of the {CIFAR_RECORD}-byte "
            "record (1 label + 3072 pixels); the file is truncated or corrupt"
        )
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    y = rec[:, 0]
    if y.max() > 9:
        raise DataError(f"{path}: label byte {y.max()} is out of range 0..9; corrupt file?")
    return rec[:, 1:], y


@LOADERS.register("cifar10", doc="CIFAR-10 binary version or .npz")
def load_cifar10(path: PathLike) -> Dataset:
    """CIFAR-10 from the official binary version or an ``.npz``.

    ``path`` may be the folder ``cifar-10-batches-bin`` (holding ``data_batch_1.bin`` ..
    ``data_batch_5.bin`` and ``test_batch.bin``; records of 1 label byte + 3072 pixel bytes,
    channel-planar R, G, B), a folder containing it, a folder with ``cifar10.npz`` or
    ``cifar10_subset.npz``, or an ``.npz`` file whose images are ``(N, 32, 32, 3)`` (HWC,
    made channel-planar) or already-flat ``(N, 3072)`` planar rows. Either way rows are
    ``(C, H, W)``-ordered: both sources give identical features for the same image.
    """
    p = Path(path)
    if p.is_dir():
        sub = p / "cifar-10-batches-bin"
        folder = sub if sub.is_dir() else p
        if (folder / _CIFAR_TEST).exists() or any((folder / f).exists() for f in _CIFAR_TRAIN):
            parts = [_read_cifar_bin(folder / f) for f in (*_CIFAR_TRAIN, _CIFAR_TEST)]
            x_train = np.concatenate([x for x, _ in parts[:-1]])
            y_train = np.concatenate([y for _, y in parts[:-1]])
            x_test, y_test = parts[-1]
            return Dataset.from_arrays(
                x_train, y_train, x_test, y_test, name="cifar10", num_classes=10,
                image_shape=(3, 32, 32), pixel_max=255.0,
            )  # fmt: skip
        for stem in ("cifar10", "cifar10_subset"):
            npz = p / f"{stem}.npz"
            if npz.is_file():
                return _cifar_npz(npz)
        raise DataError(
            f"{p}: expected cifar-10-batches-bin/ (data_batch_1..5.bin, test_batch.bin), "
            "those .bin files, or cifar10.npz / cifar10_subset.npz in this folder"
        )
    if not p.exists():
        raise DataError(f"expected CIFAR-10 data at {p} (a folder of .bin batches or an .npz)")
    return _cifar_npz(p)


def _cifar_npz(path: Path) -> Dataset:
    ds = _dataset_from_npz(_read_npz(path), path, path.stem)
    if ds.num_features != 3072:
        raise DataError(f"{path}: CIFAR-10 images have 3072 values, got {ds.num_features}")
    from dataclasses import replace

    return replace(ds, image_shape=(3, 32, 32), num_classes=max(ds.num_classes, 10))


# --------------------------------------------------------------------------------- CSV


def _split_indices(y: IntArray, test_fraction: float, seed: int) -> tuple[IntArray, IntArray]:
    n_test = round(test_fraction * len(y))
    test = stratified_choice(y, n_test, np.random.default_rng(seed))
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, test


@LOADERS.register("csv", doc="one sample per row, a label column")
def load_csv(
    path: PathLike,
    label_column: int = -1,
    test_fraction: float = 0.2,
    seed: int = 0,
    *,
    delimiter: str = ",",
) -> Dataset:
    """A numeric CSV file: one sample per line, one column of class labels.

    A first line that does not parse as numbers is taken as a header and skipped. Labels must
    be integers; non-negative ones are kept as they are (``K = max + 1``), otherwise the
    distinct values are mapped to ``0..K-1`` in increasing order (e.g. −1/+1 → 0/1). The test
    set is a stratified ``test_fraction`` of the rows drawn with
    ``np.random.default_rng(seed)``; both parts keep file order.

    Raises:
        DataError: missing or empty file, a non-numeric cell, ragged rows, bad labels.
        ConfigError: ``test_fraction`` outside ``[0, 1)`` or ``label_column`` out of range.
    """
    p = Path(path)
    if not 0 <= test_fraction < 1:
        raise ConfigError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if not p.is_file():
        raise DataError(f"expected a CSV file at {p}, but it does not exist")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read {p} as text: {e}") from e
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{p} is empty; expected numeric CSV rows")
    try:
        [float(v) for v in lines[0].split(delimiter)]
        skip = 0
    except ValueError:
        skip = 1
    rows = lines[skip:]
    if not rows:
        raise DataError(f"{p} has a header but no data rows")
    try:
        data = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise DataError(f"{p}: not a numeric CSV ({e})") from e
    n_cols = data.shape[1]
    if n_cols < 2 or not -n_cols <= label_column < n_cols:
        raise ConfigError(f"{p}: label_column {label_column} is out of range for {n_cols} columns")
    col = label_column % n_cols
    labels = data[:, col]
    if not (np.all(np.isfinite(labels)) and np.array_equal(labels, np.round(labels))):
        raise DataError(f"{p}: label column {col} must hold integers")
    if labels.min() >= 0:
        y = labels.astype(np.int64)
    else:
        y = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    x = np.delete(data, col, axis=1)
    train, test = _split_indices(y, test_fraction, seed)
    return Dataset.from_arrays(x[train], y[train], x[test], y[test], name=p.stem,
                               num_classes=int(y.max()) + 1)  # fmt: skip


# --------------------------------------------------------------------------------- digits


@LOADERS.register("digits", doc="the embedded UCI digits")
def load_digits() -> Dataset:
    """The embedded UCI handwritten digits (1438 train / 359 test, 8×8, 10 classes).

    Pixel values are 0..16 (``pixel_max=16``), ``image_shape=(1, 8, 8)``. Provenance and
    license: ``sprig/data/DIGITS.md``. Needs no scikit-learn and no network.
    """
    ref = resources.files("sprig.data").joinpath("digits.npz")
    arrays = _load_npz_bytes(ref.read_bytes(), "sprig/data/digits.npz")
    return Dataset.from_arrays(
        arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
        name="digits", num_classes=10, image_shape=(1, 8, 8), pixel_max=16.0,
    )  # fmt: skip


# --------------------------------------------------------------------------------- dispatch


def _kind_from_name(name: str) -> str:
    n = name.lower()
    if "fashion" in n:
        return "fashion_mnist"
    if "mnist" in n:
        return "mnist"
    if "cifar" in n:
        return "cifar10"
    return "npz"


def infer_kind(path: PathLike) -> str:
    """The loader kind for a path: ``.csv`` → csv; ``.npz`` and folders by name
    (``*fashion*`` → fashion_mnist, ``*mnist*`` → mnist, ``*cifar*`` → cifar10, else npz)."""
    p = Path(path)
    if p.suffix.lower() in (".csv", ".txt"):
        return "csv"
    if p.is_dir() and (p / "cifar-10-batches-bin").is_dir():
        return "cifar10"
    return _kind_from_name(p.name)


def load_dataset(
    name_or_path: PathLike,
    *,
    kind: str | None = None,
    root: PathLike | None = None,
    **options: Any,
) -> Dataset:
    """Load a dataset by name or path.

    * ``"digits"``: the embedded set.
    * an existing file or folder: loaded by ``kind`` (one of :data:`KINDS`; ``"nerva"`` is an
      ``.npz`` with Nerva's keys, read by :func:`load_npz`), inferred by :func:`infer_kind`
      when not given.
    * any other plain name (``"mnist"``, ``"fashion_mnist"``, ``"cifar10_subset"``,
      ``"madelon"``...): the folder ``<root>/<name>``, i.e. ``<root>/<name>/<name>.npz`` or
      the raw files of that kind inside it; ``root`` defaults to ``$SPRIG_DATA``.

    ``options`` go to the loader (e.g. ``label_column``, ``test_fraction`` for CSV).

    Raises:
        DataError: nothing found, or the loader's errors.
        ConfigError: unknown ``kind``, or options the loader does not take.
    """
    if kind is not None:
        kind = LOADERS.lookup(kind).name  # unknown kind: ConfigError listing the valid ones
    target = str(name_or_path)
    p = Path(target)
    if kind == "digits" or (target == "digits" and not p.exists()):
        return _call(load_digits, options)
    if not p.exists():
        if os.sep in target or "/" in target or p.suffix:
            raise DataError(f"dataset file or folder {p} does not exist")
        base = root if root is not None else os.environ.get(DATA_ENV)
        if not base:
            raise DataError(
                f"unknown dataset {target!r}: not a file, and no data root to find it in; "
                f"pass root=... or set {DATA_ENV} to the folder holding {target}/{target}.npz"
            )
        p = Path(base) / target
        if not p.exists():
            raise DataError(f"dataset {target!r} not found: expected {p / (target + '.npz')}")
    k = kind or infer_kind(p)
    if p.is_dir() and k in ("npz", "csv"):
        ext = "csv" if k == "csv" else "npz"
        p = p / f"{p.name}.{ext}"
    loader = LOADERS.lookup(k).factory
    return _call(loader, options, p)


def _call(loader: Any, options: dict[str, Any], *args: Any) -> Dataset:
    params = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        allowed = [n for n in params if n not in ("path",)]
        raise ConfigError(
            f"{loader.__name__} does not take option(s) {unknown}; allowed: {allowed or 'none'}"
        )
    return loader(*args, **options)  # type: ignore[no-any-return]


#: Every loader kind (and alias) registered above with ``@LOADERS.register``.
KINDS = tuple(LOADERS.valid_names())
