"""Fixtures of the hardening test modules: a tiny dataset and one trained run, made once."""

from __future__ import annotations

import pytest

from hardening_util import TRAIN, sprig, write_dataset


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """``(root, dataset, run_dir)``: a 1-epoch run on the tiny dataset (treat as read-only;
    copy it with ``hardening_util.copy_run`` before changing anything)."""
    root = tmp_path_factory.mktemp("hardening")
    good = write_dataset(root / "good.npz")
    run = root / "run"
    proc = sprig([a.format(good=good, out=run) for a in TRAIN], cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root, good, run
