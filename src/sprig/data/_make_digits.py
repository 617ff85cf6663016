"""Build ``digits.npz`` (the embedded default dataset) from scikit-learn's copy of UCI digits.

Run by hand only (``python src/sprig/data/_make_digits.py``); sprig never imports this module
and needs no scikit-learn to *load* the result. Provenance, license and array digests are in
``DIGITS.md`` beside the output.

Split: stratified 80/20 exactly as in ``shared/data`` — each class's indices are shuffled with
``np.random.RandomState(0)`` (classes in increasing order) and the first ``round(0.2 * n_class)``
become test rows; both sides keep the original file order. ``train_idx``/``test_idx`` record
each row's index in scikit-learn's order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def main() -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.data  # (1797, 64) float64 holding integers 0..16
    y = bunch.target
    if not (np.array_equal(x, np.round(x)) and x.min() >= 0 and x.max() <= 16):
        raise SystemExit("unexpected pixel values")
    x = x.astype(np.uint8)
    y = y.astype(np.uint8)

    rs = np.random.RandomState(0)
    test: list[int] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rs.shuffle(idx)
        test.extend(idx[: round(0.2 * len(idx))])
    test_idx = np.sort(np.asarray(test, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)

    arrays = {
        "x_train": x[train_idx],
        "y_train": y[train_idx],
        "x_test": x[test_idx],
        "y_test": y[test_idx],
        "train_idx": train_idx,
        "test_idx": test_idx,
    }
    out = Path(__file__).with_name("digits.npz")
    np.savez_compressed(out, **arrays)
    with np.load(out, allow_pickle=False) as check:
        for k, v in arrays.items():
            assert np.array_equal(check[k], v), k
    for k, v in arrays.items():
        digest = hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
        print(f"| {k} | {v.shape} {v.dtype} | `{digest}` |")
    print("class counts train", np.bincount(arrays["y_train"]).tolist())
    print("class counts test ", np.bincount(arrays["y_test"]).tolist())


if __name__ == "__main__":
    main()
