"""Learning-rate schedules: doctests, closed forms, torch.optim.lr_scheduler, validation."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import math

import pytest

from sprig.schedules import (
    REGISTRY,
    Constant,
    Cosine,
    Exponential,
    LinearWarmup,
    MultiStep,
    PerEpoch,
    StepBased,
    TimeBased,
    per_epoch,
)

MODULES = ["constant", "decay", "cosine", "wrappers"]


@pytest.mark.parametrize("module", MODULES)
def test_doctests(module):
    mod = importlib.import_module(f"sprig.schedules.{module}")
    result = doctest.testmod(mod, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0


def test_registry():
    assert set(REGISTRY) == {
        "constant",
        "time_based",
        "step_based",
        "multistep",
        "exponential",
        "cosine",
        "linear_warmup",
        "per_epoch",
        "in_steps",
    }
    for name, cls in REGISTRY.items():
        assert cls.name == name and dataclasses.is_dataclass(cls)


@pytest.mark.parametrize("decay", [1e-6, 1e-3, 0.05, 0.7])
def test_time_based_equals_nerva_recursion(decay):
    # Nerva: at call i, lr <- lr / (1 + decay·i); returns lr.
    s = TimeBased(0.3, decay)
    lr = 0.3
    for i in range(3000):
        lr = lr / (1 + decay * i)
        if i <= 1024:
            assert s(i) == lr
        elif i % 97 == 0 or i == 2999:
            assert s(i) == pytest.approx(lr, rel=1e-11, abs=1e-300)


def test_time_based_edge_cases():
    assert TimeBased(0.1, 0.0)(10**9) == 0.1
    assert TimeBased(0.1, 1.0)(10**6) == 0.0  # underflows cleanly


def test_step_based_formula():
    s = StepBased(0.2, 0.5, 3)
    assert [s(i) for i in range(7)] == [0.2 * 0.5 ** math.floor((1 + i) / 3) for i in range(7)]
    assert StepBased(1.0, 0.5, 2.5)(4) == 0.5**2


def _torch_lrs(make_scheduler, n, lr=0.5):
    torch = pytest.importorskip("torch.nn") and pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(torch.optim.lr_scheduler, opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_multistep_matches_torch():
    expected = _torch_lrs(lambda S, o: S.MultiStepLR(o, milestones=[3, 5, 9], gamma=0.3), 14)
    s = MultiStep(0.5, [3, 5, 9], 0.3)
    assert s.milestones == (3, 5, 9)
    assert [s(i) for i in range(14)] == pytest.approx(expected, rel=1e-12)


def test_exponential_matches_torch():
    d = 0.2
    expected = _torch_lrs(lambda S, o: S.ExponentialLR(o, gamma=math.exp(-d)), 20)
    assert [Exponential(0.5, d)(i) for i in range(20)] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("min_lr", [0.0, 0.05])
def test_cosine_matches_torch_up_to_total_steps(min_lr):
    T = 17
    expected = _torch_lrs(lambda S, o: S.CosineAnnealingLR(o, T_max=T, eta_min=min_lr), T + 1)
    s = Cosine(0.5, T, min_lr)
    assert [s(i) for i in range(T + 1)] == pytest.approx(expected, rel=1e-10, abs=1e-14)
    assert s(T) == s(T + 10) == min_lr


def test_linear_warmup_matches_torch_linear_lr():
    W, f0 = 5, 0.25
    expected = _torch_lrs(lambda S, o: S.LinearLR(o, start_factor=f0, total_iters=W), 9)
    s = LinearWarmup(Constant(0.5), W, start_factor=f0)
    assert [s(i) for i in range(9)] == pytest.approx(expected, rel=1e-12)


def test_linear_warmup_shift_and_continuity():
    inner = Cosine(1.0, 10)
    W = 4
    unshifted = LinearWarmup(inner, W)
    shifted = LinearWarmup(inner, W, shift=True)
    assert unshifted(0) == shifted(0) == 0.0
    for i in range(W, 20):
        assert unshifted(i) == inner(i)
        assert shifted(i) == inner(i - W)
    assert unshifted(2) == pytest.approx(0.5 * inner(2))
    assert shifted(2) == pytest.approx(0.5 * inner(0))
    assert LinearWarmup(inner, 0)(3) == inner(3)
    # ramps are monotone and end just below the wrapped value at W
    assert shifted(W - 1) < shifted(W) == 1.0


def test_per_epoch():
    s = PerEpoch(MultiStep(1.0, (1, 2), 0.5), steps_per_epoch=3)
    assert [s(i) for i in range(8)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert per_epoch(Constant(0.1), 7) == PerEpoch(Constant(0.1), 7)


def test_schedules_return_python_floats_and_accept_numpy_steps():
    np = pytest.importorskip("numpy")
    for s in [
        Constant(1),
        TimeBased(1, 0.1),
        StepBased(1, 0.5, 2),
        MultiStep(1, (1,)),
        Exponential(1, 0.1),
        Cosine(1, 5),
        LinearWarmup(Constant(1), 2),
        PerEpoch(Constant(1), 2),
    ]:
        assert type(s(np.int64(3))) is float


@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (lambda: Constant(-0.1), "lr"),
        (lambda: Constant(float("inf")), "lr"),
        (lambda: Constant("0.1"), "lr"),
        (lambda: TimeBased(0.1, -1.0), "decay"),
        (lambda: StepBased(0.1, 0.0, 2), "drop_rate"),
        (lambda: StepBased(0.1, 1.5, 2), "drop_rate"),
        (lambda: StepBased(0.1, 0.5, 0), "change_rate"),
        (lambda: MultiStep(0.1, (), 0.1), "milestones"),
        (lambda: MultiStep(0.1, (5, 3), 0.1), "increasing"),
        (lambda: MultiStep(0.1, (3, 3), 0.1), "increasing"),
        (lambda: MultiStep(0.1, (-1, 3), 0.1), "milestones"),
        (lambda: MultiStep(0.1, (1.5,), 0.1), "milestones"),
        (lambda: MultiStep(0.1, (1,), 0.0), "gamma"),
        (lambda: Exponential(0.1, -0.1), "change_rate"),
        (lambda: Cosine(0.1, 0), "total_steps"),
        (lambda: Cosine(0.1, 10, min_lr=0.2), "min_lr"),
        (lambda: Cosine(0.1, 10, min_lr=-0.2), "min_lr"),
        (lambda: LinearWarmup(Constant(0.1), -1), "warmup_steps"),
        (lambda: LinearWarmup(Constant(0.1), 2, start_factor=1.5), "start_factor"),
        (lambda: LinearWarmup(0.1, 2), "schedule"),
        (lambda: PerEpoch(Constant(0.1), 0), "steps_per_epoch"),
    ],
)
def test_bad_config_raises_naming_the_value(make, bad):
    with pytest.raises(ValueError, match=bad):
        make()


@pytest.mark.parametrize("step", [-1, 1.5, True, "3"])
def test_bad_step(step):
    with pytest.raises(ValueError, match="step"):
        Constant(0.1)(step)
