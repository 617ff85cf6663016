"""Two-process gloo data-parallel training equals one process with the same global batch."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

import sprig  # noqa: E402

WORKER = Path(__file__).with_name("_dist_worker.py")


def _worker_module():
    spec = importlib.util.spec_from_file_location("_sprig_dist_worker", WORKER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(tmp_path):
    env = dict(os.environ)
    src = str(Path(sprig.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = "1"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(r),
                "2",
                str(tmp_path / "init"),
                str(tmp_path / "out"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(2)
    ]
    ref, ref_prints = _worker_module().train("single")  # meanwhile, in this process
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out.decode()[-3000:]
    assert ref_prints.shape == (2, 3)  # two RigL updates (steps 2, 4) of three layers
    for mode in ("hook", "ddp"):
        for r in range(2):
            got = dict(np.load(tmp_path / f"out-{mode}-{r}.npz"))
            np.testing.assert_array_equal(got.pop("fingerprints"), ref_prints, err_msg=mode)
            assert set(got) == set(ref)
            for k in ref:
                np.testing.assert_allclose(
                    got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=f"{mode} rank {r}: {k}"
                )


def test_broadcast_edits_round_trip_on_one_rank(tmp_path):
    from sprig.sparsity import Edit
    from sprig.torch.distributed import (
        all_gather_columns,
        all_reduce_arrays,
        broadcast_edits,
        is_distributed,
    )

    dist = torch.distributed
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'init1'}", rank=0, world_size=1
    )
    try:
        assert not is_distributed()  # one rank: the helpers are no-ops
        a = np.arange(3.0)
        all_reduce_arrays([a])
        np.testing.assert_array_equal(a, [0.0, 1.0, 2.0])
        assert all_gather_columns(np.ones((2, 3))).shape == (2, 3)
        i64 = np.int64
        edits = {
            "a": Edit(np.array([1, 4], i64), np.array([0], i64), np.array([2], i64), None),
            "b": Edit(
                np.zeros(0, i64),
                np.array([3, 5], i64),
                np.array([1, 0], i64),
                np.array([0.5, -2.0]),
            ),
            "c": Edit(np.zeros(0, i64), np.zeros(0, i64), np.zeros(0, i64)),
        }
        got = broadcast_edits(edits, ["a", "b", "c"])
        for n, e in edits.items():
            for f in ("drop", "add_rows", "add_cols"):
                np.testing.assert_array_equal(getattr(got[n], f), getattr(e, f))
            assert (got[n].add_values is None) == (e.add_values is None)
        np.testing.assert_array_equal(got["b"].add_values, [0.5, -2.0])
        with pytest.raises(ValueError, match="an edit for every layer"):
            broadcast_edits({"a": edits["a"]}, ["a", "b"])
    finally:
        dist.destroy_process_group()
