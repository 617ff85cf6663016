"""``fit`` recovers known constants from noisy synthetic runs, and refuses what it cannot do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest

from sprig.errors import ConfigError, DataError
from sprig.scaling.fit import STAGE_CONSTANTS, _Objective, fit, huber
from sprig.scaling.law import PUBLISHED
from sprig.scaling.runs import Runs, read_runs, runs_from_rows, write_rows

# Small start grids (one or two points per axis, none at the truth) keep the test fast.
GRID = {
    "a": [4.0],
    "b": [7.0],
    "e": [0.5],
    "alpha": [0.5],
    "epsilon": [0.0],
    "mu": [0.5, 1.5],
    "c": [-0.5, 0.5],
    "gamma1": [5.0, 15.0],
    "gamma2": [8.0],
    "c11": [0.0],
    "c12": [0.0],
    "c21": [0.0],
    "c22": [0.0],
}


def synthetic(
    *,
    noise: float = 1e-3,
    densities: Iterable[float] = (1, 0.5, 0.25, 0.125, 0.0625),
    epochs: Iterable[int] = (1, 4, 16),
    seed: int = 0,
    law: Any = PUBLISHED,
) -> list[dict[str, Any]]:
    """Runs drawn from the law with log-normal noise: one-epoch runs from the one-epoch law
    (stages 1-2), repeated-data runs from the full law (stages 3-4)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(1e7, 1e10, 4):
        for s in densities:
            for U in np.geomspace(1e8, 1e11, 4):
                for ep in epochs:
                    D = U * ep
                    loss = law.loss(N, s, D, U) if ep > 1 else law.one_epoch_loss(N, s, D)
                    rows.append(
                        dict(
                            params=N,
                            density=s,
                            tokens=D,
                            unique=U,
                            loss=float(loss) * float(np.exp(rng.normal(0, noise))),
                        )
                    )
    return rows


def test_fit_recovers_the_published_law() -> None:
    rows = synthetic()
    for r in rows[::17]:
        r["split"] = "heldout"
    res = fit(runs_from_rows(rows), grid=GRID)
    got, want = res.law, PUBLISHED
    assert got.alpha == pytest.approx(want.alpha, abs=0.005)
    for k in ("a", "b"):
        assert getattr(got, k) == pytest.approx(getattr(want, k), abs=0.1)
    assert pytest.approx(want.E, rel=0.01) == got.E
    s = np.array([0.5, 0.25, 0.125, 0.0625])
    np.testing.assert_allclose(got.density_factor(s), want.density_factor(s), rtol=0.01)
    s = np.array([1.0, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(got.rn_star(s), want.rn_star(s), rtol=0.05)
    np.testing.assert_allclose(got.rd_star(s), want.rd_star(s), rtol=0.05)
    assert res.r2 > 0.999
    assert [st.stage for st in res.stages] == [1, 2, 3, 4]
    assert len(res.heldout) == len(rows[::17]) and res.heldout_r2 > 0.999
    assert max(abs(h["error"]) / h["loss"] for h in res.heldout) < 0.01


def test_objective_gradient_matches_finite_differences() -> None:
    runs = runs_from_rows(synthetic(noise=0.02, seed=1))
    law = PUBLISHED.with_constants(a=5.0, mu=0.7, gamma1=9.0, c12=1.5)
    rng = np.random.default_rng(0)
    for one_epoch, names in (
        (True, STAGE_CONSTANTS[2]),
        (False, STAGE_CONSTANTS[3] + STAGE_CONSTANTS[4]),
    ):
        sel = runs.epochs <= 1 if one_epoch else runs.epochs > 1
        sub = runs.select(sel)
        # A large delta makes the objective smooth (quadratic) for the check.
        obj = _Objective(law, sub, names, one_epoch=one_epoch, delta=10.0)
        x = np.array([getattr(law, k) for k in names]) + rng.normal(0, 0.05, len(names))
        v, g = obj(x)
        h = 1e-6
        for i in range(len(names)):
            e = np.zeros_like(x)
            e[i] = h
            fd = (obj(x + e)[0] - obj(x - e)[0]) / (2 * h)
            assert g[i] == pytest.approx(fd, rel=1e-5, abs=1e-7), names[i]
        assert v == pytest.approx(obj(x)[0])


def test_huber_is_torch_huber() -> None:
    r = np.array([-3e-3, -1e-3, 0.0, 5e-4, 2e-3])
    want = [1e-3 * (3e-3 - 5e-4), 0.5e-6, 0.0, 0.5 * 25e-8, 1e-3 * (2e-3 - 5e-4)]
    np.testing.assert_allclose(huber(r, 1e-3), want, rtol=1e-12)


def test_one_epoch_stages_only() -> None:
    rows = [r for r in synthetic(noise=0.0) if r["tokens"] == r["unique"]]
    res = fit(runs_from_rows(rows), grid=GRID, stages=(1, 2))
    assert not res.law.multi_epoch
    assert res.r2 > 0.9999
    with pytest.raises(ConfigError, match="no repetition"):
        res.law.loss(1e9, 0.5, 4e9, 1e9)


def _runs(rows: list[dict[str, Any]]) -> Runs:
    return runs_from_rows(rows)


@pytest.mark.parametrize(
    "keep, kw, match",
    [
        # one density only: the density factor cannot be identified
        (lambda r: r["density"] in (1, 0.5), {}, "cannot identify epsilon: .*1 distinct"),
        # one repetition count only (all one-epoch): R*_D cannot be identified
        (lambda r: r["tokens"] == r["unique"], {}, "cannot identify gamma2"),
        # every run repeated 4 times: no one-epoch runs for stages 1-2
        (lambda r: r["tokens"] == 4 * r["unique"], {}, "cannot identify a, b, e, alpha"),
        # one repetition level above one epoch
        (lambda r: r["tokens"] <= 4 * r["unique"], {}, "gamma2: dense runs repeat .* 1 level"),
        # one sparse density with repeated data
        (
            lambda r: r["density"] in (1, 0.5) or r["tokens"] == r["unique"],
            {},
            "cannot identify c1",
        ),
        (lambda r: True, {"fix": {"zeta": 1.0}}, "cannot fix zeta"),
        (lambda r: True, {"grid": "fine"}, "grid='fine'"),
        (lambda r: True, {"stages": (2, 3)}, "stages must be"),
        (lambda r: True, {"delta": 0.0}, "delta must be > 0"),
    ],
)
def test_fit_refuses(keep, kw: dict[str, Any], match: str) -> None:
    rows = [r for r in synthetic(noise=0.0) if keep(r)]
    with pytest.raises(ConfigError, match=match):
        fit(_runs(rows), **{"grid": GRID, **kw})


def test_fixed_constants_are_kept_and_unlock_the_fit() -> None:
    rows = [r for r in synthetic(noise=0.0) if r["density"] in (1, 0.5)]
    fix = {"epsilon": PUBLISHED.epsilon, "mu": PUBLISHED.mu}
    res = fit(_runs(rows), grid=GRID, fix=fix, stages=(1, 2))
    assert res.law.epsilon == PUBLISHED.epsilon and res.law.mu == PUBLISHED.mu
    assert res.fixed == {"epsilon": PUBLISHED.epsilon, "mu": PUBLISHED.mu}
    assert res.law.c == pytest.approx(PUBLISHED.c, abs=0.01)


def test_all_heldout_is_refused() -> None:
    rows = synthetic(noise=0.0)[:10]
    for r in rows:
        r["split"] = "heldout"
    with pytest.raises(ConfigError, match="every run is marked split=heldout"):
        fit(_runs(rows))


def test_runs_file_round_trip_and_bad_files(tmp_path) -> None:
    rows = synthetic(noise=0.0)[:5]
    rows[0]["split"] = "heldout"
    rows[1]["note"] = "x"
    path = write_rows(tmp_path / "runs.csv", rows)
    runs = read_runs(path)
    assert len(runs) == 5 and runs.heldout.tolist() == [True, False, False, False, False]
    np.testing.assert_array_equal(runs.loss, [r["loss"] for r in rows])
    bad = tmp_path / "bad.csv"
    for text, match in [
        ("params,density,tokens,loss\n1,1,1,1\n", "missing column.*unique"),
        ("params,density,tokens,unique,loss\n1,2,1,1,1\n", "density=2.0 must be in"),
        ("params,density,tokens,unique,loss\n1,1,x,1,1\n", "tokens='x' is not a number"),
        ("params,density,tokens,unique,loss\n1,1,1,1,0\n", "loss=0.0 must be > 0"),
        ("params,density,tokens,unique,loss,split\n1,1,1,1,1,test\n", "split='test'"),
        ("params,density,tokens,unique,loss\n", "no runs"),
    ]:
        bad.write_text(text)
        with pytest.raises(DataError, match=match):
            read_runs(bad)
    with pytest.raises(DataError, match="does not exist"):
        read_runs(tmp_path / "missing.csv")
