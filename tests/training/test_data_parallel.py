"""Data-parallel training over two gloo processes equals one process with the same global
batch: the same final weights (float64, to rounding) and the same topology after every step."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch.nn")

WORKER = Path(__file__).with_name("dp_worker.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(out, dst, env=None, single=False):
    args = [sys.executable, str(WORKER), str(out), dst] + (["--single"] if single else [])
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("dst", ["RigL(fraction=0.3, every=5)", "SET(0.3)"])
def test_two_ranks_equal_one_process(tmp_path, dst):
    ref = _run(tmp_path / "single.npz", dst, single=True)
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}  # fmt: skip
        procs.append(_run(tmp_path / f"rank{rank}.npz", dst, env=env))
    for p in [ref, *procs]:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    single = np.load(tmp_path / "single.npz")
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    assert len(single["crcs"]) == 40
    for r in ranks:  # identical topology on every rank and as one process, after every step
        np.testing.assert_array_equal(r["crcs"], single["crcs"])
    assert len({tuple(row) for row in single["crcs"].tolist()}) > 1  # the topology did change
    for k in single.files:
        if k != "crcs":
            np.testing.assert_array_equal(ranks[0][k], ranks[1][k], err_msg=k)
            np.testing.assert_allclose(ranks[0][k], single[k], rtol=1e-9, atol=1e-12, err_msg=k)


ARGS = ["--layers", "ReLU;Linear", "--layer-sizes", "64;64;10", "--overall-density", "0.2",
        "--dst", "RigL(fraction=0.3, every=10)", "--optimizers", "Momentum(0.9)", "--epochs",
        "2", "--batch-size", "32", "--seed", "4", "--threads", "1", "--no-progress",
        "--dtype", "float64"]  # fmt: skip


@pytest.mark.slow
def test_torchrun_sprig_train_equals_one_process(tmp_path):
    """``torchrun --nproc-per-node 2 -m sprig train`` trains one model data-parallel."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sprig", "train", *ARGS, "--run-dir", str(tmp_path / "one")]
    one = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "sprig", "train", *ARGS, "--run-dir", str(tmp_path / "two")]  # fmt: skip
    two = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert two.returncode == 0, two.stderr[-2000:]
    assert two.stdout.count("done: 2 epochs") == 1  # only rank 0 reports
    a, b = np.load(tmp_path / "one" / "weights.npz"), np.load(tmp_path / "two" / "weights.npz")
    for k in a.files:
        if k.endswith(("indptr", "indices")):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        elif k != "__meta__":
            np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_shutdown_destroys_the_group_and_is_idempotent(tmp_path):
    """``init_from_env`` registers ``shutdown`` at exit: a process leaving with a live gloo
    group can abort in gloo's threads during teardown (SIGABRT, seen in CI)."""
    import torch.distributed as dist

    from sprig.training.distributed import shutdown

    shutdown()  # no group: nothing to do
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'g'}", rank=0, world_size=1)
    assert dist.is_initialized()
    shutdown()
    assert not dist.is_initialized()
    shutdown()
