"""Class 4 of issue 8, hostile files: ``.npz`` member headers declaring more data than the
file holds, index arrays of the wrong type or range, and crafted checkpoint counters are
refused with one line before anything is allocated, cast or "resumed"."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from hardening_util import Case, assert_error, copy_run, run_cases, write_dataset
from sprig.io import load_npz, save_npz


def hostile_npz(path, keys, shape=(10**11,), descr="<f8"):
    """A ~1 KB archive whose members' ``.npy`` headers declare ``shape`` (default 10¹¹
    float64 elements: 800 GB) over 64 bytes of data."""
    with zipfile.ZipFile(path, "w") as z:
        for key in keys:
            header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
            header += " " * (63 - (len(header) + 10) % 64) + "\n"
            blob = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
            z.writestr(f"{key}.npy", blob + b"\0" * 64)
    return path


def _crafted(run0, dest, *, arrays=None, meta=None):
    """A copy of the run whose checkpoint's arrays/metadata are changed by the callables."""
    d = copy_run(run0, dest)
    a, m = load_npz(d / "checkpoint.npz")
    if arrays:
        arrays(a)
    if meta:
        meta(m)
    save_npz(d / "checkpoint.npz", a, meta=m)
    return d


def _sparse_key(arrays, suffix):
    return next(k for k in sorted(arrays) if k.endswith(suffix))


CASES = [
    Case("train-huge-header", ["train", "--dataset", "{huge_data}", "--no-progress",
                               "--run-dir", "{out}"], "declares shape (100000000000,)"),
    Case("info-huge-header", ["info", "{huge_ckpt}"], "declares shape (100000000000,)"),
    Case("evaluate-huge-header", ["evaluate", "{huge_run}"], "declares shape (100000000000,)"),
    Case("evaluate-huge-data", ["evaluate", "{run}", "--data", "{huge_data}"],
         "declares shape (100000000000,)"),
    Case("export-huge-header", ["export", "{huge_run}", "--nerva", "{out}.npz"],
         "declares shape (100000000000,)"),
    Case("resume-huge-header", ["train", "--resume", "{huge_run}", "--no-progress"],
         "declares shape (100000000000,)"),
    Case("load-weights-huge-header", ["train", "--dataset", "{good}", "--layer-sizes", "20;16;3",
                                      "--layers", "ReLU;Linear", "--load-weights", "{huge_ckpt}",
                                      "--run-dir", "{out}", "--no-progress"],
         "declares shape (100000000000,)"),
    Case("huge-2d-int-header", ["info", "{huge_2d}"], "declares shape (100000, 100000)"),
    Case("negative-shape-header", ["info", "{neg_shape}"], "invalid array header"),
    Case("info-float-indices", ["info", "{float_idx}"], "topology arrays must be integers"),
    Case("resume-float-indices", ["train", "--resume", "{float_idx}", "--no-progress"],
         "has dtype float64; topology arrays must be integers"),
    Case("evaluate-float-indptr", ["evaluate", "{float_indptr}"], "topology arrays must be"),
    Case("resume-wrapping-index", ["train", "--resume", "{wrap_idx}", "--no-progress"],
         "allowed 0..2147483647"),
    Case("resume-int-weights", ["train", "--resume", "{int_data}", "--no-progress"],
         "weights and biases must be float arrays"),
    Case("resume-epoch-negative", ["train", "--resume", "{epoch_neg}", "--no-progress"],
         "epoch -1 is outside 0..1"),
    Case("resume-epoch-huge", ["train", "--resume", "{epoch_huge}", "--no-progress"],
         "epoch 1000000000 is outside 0..1"),
    Case("resume-epochs-huge", ["train", "--resume", "{epochs_huge}", "--no-progress"],
         "epochs 1000000000 is outside 1..1000000"),
    Case("resume-step-inconsistent", ["train", "--resume", "{step_bad}", "--no-progress"],
         "step 5 does not match epoch 1 and batch 0"),
    Case("resume-batch-out-of-range", ["train", "--resume", "{batch_bad}", "--no-progress"],
         "batch_in_epoch 99 is outside 0..8"),
    Case("resume-history-mismatch", ["train", "--resume", "{hist_bad}", "--no-progress"],
         "epoch 1 but 0 history rows"),
    Case("info-epoch-negative", ["info", "{epoch_neg}"], "epoch -1 is outside"),
]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(trained_run, tmp_path_factory):
    _, _, run0 = trained_run
    root = tmp_path_factory.mktemp("hostile")
    good = write_dataset(root / "good.npz")
    run = copy_run(run0, root / "run")
    arrays, _ = load_npz(run0 / "checkpoint.npz")
    huge_run = copy_run(run0, root / "huge_run")
    hostile_npz(huge_run / "checkpoint.npz", sorted(arrays)[:3])
    (huge_run / "weights.npz").unlink()

    def set_key(suffix, fn):
        def change(a):
            k = _sparse_key(a, suffix)
            a[k] = fn(a[k])

        return change

    def set_meta(**kv):
        return lambda m: m.update(kv)

    paths = {
        "good": good,
        "run": run,
        "huge_data": hostile_npz(root / "huge_data.npz", ["x_train", "y_train", "x_test"]),
        "huge_ckpt": hostile_npz(root / "huge_ckpt.npz", ["model/0.weight.data"]),
        "huge_run": huge_run,
        "huge_2d": hostile_npz(root / "huge_2d.npz", ["a"], shape=(100000, 100000), descr="<i4"),
        "neg_shape": hostile_npz(root / "neg.npz", ["a"], shape=(-5,)),
        "float_idx": _crafted(run0, root / "float_idx",
                              arrays=set_key(".weight.indices", lambda v: v.astype(np.float64))),
        "float_indptr": _crafted(run0, root / "float_indptr",
                                 arrays=set_key(".weight.indptr", lambda v: v + 0.25)),
        "wrap_idx": _crafted(run0, root / "wrap_idx",
                             arrays=set_key(".weight.indices", lambda v: v.astype(np.int64)
                                            + 2**32)),
        "int_data": _crafted(run0, root / "int_data",
                             arrays=set_key(".weight.data", lambda v: v.astype(np.int64))),
        "epoch_neg": _crafted(run0, root / "epoch_neg", meta=set_meta(epoch=-1)),
        "epoch_huge": _crafted(run0, root / "epoch_huge", meta=set_meta(epoch=10**9)),
        "epochs_huge": _crafted(run0, root / "epochs_huge", meta=set_meta(epochs=10**9)),
        "step_bad": _crafted(run0, root / "step_bad", meta=set_meta(step=5)),
        "batch_bad": _crafted(run0, root / "batch_bad", meta=set_meta(batch_in_epoch=99, step=107)),
        "hist_bad": _crafted(run0, root / "hist_bad", meta=set_meta(history=[])),
    }  # fmt: skip
    for name in ("float_idx", "float_indptr", "epoch_neg"):
        (paths[name] / "weights.npz").unlink()  # info/evaluate read the checkpoint
    return run_cases(root, {k: str(v) for k, v in paths.items()}, CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_file_refused(outcomes, c):
    assert_error(outcomes["procs"][c.id], c.expect, c.code)
    assert outcomes["changed"] == [], f"some case changed {outcomes['changed']}"


def test_valid_compressed_archive_still_loads(tmp_path):
    """The header check accepts legitimate deflated members (no false alarm)."""
    np.savez_compressed(tmp_path / "z.npz", a=np.zeros((300, 300)), b=np.arange(7))
    arrays, _ = load_npz(tmp_path / "z.npz")
    assert arrays["a"].shape == (300, 300) and arrays["b"].tolist() == list(range(7))
