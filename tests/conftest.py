"""Shared test configuration: hypothesis profile, strict floating point, real-data location."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))  # gradcheck.py, strategies.py

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=25)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: ``../shared/data`` beside the clone (CI has it; a user's fresh clone may not).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(name: str) -> Path:
    """Path of ``shared/data/<name>/<name>.npz``; skip (or fail in CI) when it is absent."""
    path = SHARED_DATA / name / f"{name}.npz"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared datasets, but {path} is missing")
        pytest.skip(f"needs the shared datasets ({path}); they sit beside the clone in CI")
    return path


@pytest.fixture(autouse=True)
def _strict_float():
    with np.errstate(all="raise"):
        yield
