"""Schedules built from other schedules: linear warm-up and the per-epoch adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError
from ..specs.registry import NONNEGATIVE_INT, REQUIRED, SCHEDULES, Param, SpecOf
from .base import check_int, check_number, check_step


def _from_epochs(schedule: Any, steps: int, *, steps_per_epoch: int, epochs: int) -> LinearWarmup:
    """The spec's ``steps`` are epochs; the inner spec is built with the same run facts."""
    inner = SCHEDULES.create(schedule, steps_per_epoch=steps_per_epoch, epochs=epochs)
    return LinearWarmup(inner, int(steps) * steps_per_epoch)


def _check_schedule(schedule: object) -> None:
    if not callable(schedule):
        raise ConfigError(f"schedule must be a callable step -> lr, got {schedule!r}")


@SCHEDULES.register(
    "warmup",
    Param("schedule", SpecOf("schedule")),
    Param("steps", NONNEGATIVE_INT, REQUIRED, ("warmup_steps",), "in epochs"),
    build=_from_epochs,
    doc="linear ramp from 0 to the inner schedule over `steps`, then the inner schedule",
)
@dataclass(frozen=True)
class LinearWarmup:
    r"""Linear warm-up for ``warmup_steps = W`` steps, then the wrapped schedule.

    With ``f_i = start_factor + (1 − start_factor)·i/W`` (from ``start_factor`` to 1)::

        shift=False (default):  η_i = f_i · s(i)   for i < W;   s(i)       for i >= W
        shift=True:             η_i = f_i · s(0)   for i < W;   s(i − W)   for i >= W

    With ``shift=False`` the wrapped schedule keeps absolute step indices (milestones, a
    cosine's ``total_steps`` count from step 0, warm-up included; this is PyTorch's
    ``ChainedScheduler(LinearLR, …)``). With ``shift=True`` it starts after the warm-up (as
    ``SequentialLR(…, milestones=[W])``, or a cosine over ``total − W`` steps). Both are
    continuous at ``i = W``. With the default ``start_factor=0`` step 0 has rate 0, as in
    Hugging Face's warm-up schedules.

    Args:
        schedule: the schedule after (and under) the warm-up.
        warmup_steps: ``W >= 0`` (0: the wrapped schedule unchanged).
        start_factor: ``f_0`` in ``[0, 1]``.
        shift: start the wrapped schedule after the warm-up.

    Examples:
        >>> from sprig.schedules import Constant, MultiStep
        >>> s = LinearWarmup(Constant(1.0), warmup_steps=4)
        >>> [s(i) for i in range(6)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
        >>> s = LinearWarmup(MultiStep(1.0, (3,), 0.5), warmup_steps=2, shift=True)
        >>> [s(i) for i in range(7)]
        [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.5]
    """

    name: ClassVar[str] = "linear_warmup"
    schedule: Callable[[int], float]
    warmup_steps: int
    start_factor: float = 0.0
    shift: bool = False

    def __post_init__(self) -> None:
        _check_schedule(self.schedule)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_number("start_factor", self.start_factor, 0.0, 1.0)
        if not isinstance(self.shift, bool):
            raise ConfigError(f"shift must be a bool, got {self.shift!r}")

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        i = check_step(step)
        W = int(self.warmup_steps)
        if i >= W:
            return float(self.schedule(i - W if self.shift else i))
        f0 = float(self.start_factor)
        factor = f0 + (1.0 - f0) * i / W
        return factor * float(self.schedule(0 if self.shift else i))


@dataclass(frozen=True)
class PerEpoch:
    r"""Evaluate an epoch-indexed schedule over optimizer steps: ``η_i = s(i // n)``.

    Nerva's schedules are called once per epoch with the epoch index; this adapter gives the
    same rate to every step of an epoch of ``n = steps_per_epoch`` steps.

    Examples:
        >>> from sprig.schedules import StepBased
        >>> s = PerEpoch(StepBased(1.0, 0.5, 1), steps_per_epoch=2)
        >>> [s(i) for i in range(6)]
        [0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    """

    name: ClassVar[str] = "per_epoch"
    schedule: Callable[[int], float]
    steps_per_epoch: int

    def __post_init__(self) -> None:
        _check_schedule(self.schedule)
        check_int("steps_per_epoch", self.steps_per_epoch, 1)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        return float(self.schedule(check_step(step) // self.steps_per_epoch))


def per_epoch(schedule: Callable[[int], float], steps_per_epoch: int) -> PerEpoch:
    """Function form of :class:`PerEpoch`."""
    return PerEpoch(schedule, steps_per_epoch)


def _in_steps(schedule: Any, *, steps_per_epoch: int, epochs: int) -> InSteps:
    """Build the inner spec as if every optimizer step were an epoch: its epoch-valued
    parameters (milestones, warm-up length, cosine length; the default length is the whole
    run) are then counts of optimizer steps, and it changes at every step."""
    inner = SCHEDULES.create(schedule, steps_per_epoch=1, epochs=epochs * steps_per_epoch)
    return InSteps(inner)


@SCHEDULES.register(
    "steps",
    Param("schedule", SpecOf("schedule")),
    aliases=("in_steps", "per_step"),
    build=_in_steps,
    doc="the inner schedule with its parameters counted in optimizer steps, not epochs",
)
@dataclass(frozen=True)
class InSteps:
    r"""A learning-rate schedule whose spec parameters count optimizer steps.

    Papers often say "decay by 10 every 25,000 mini-batches": ``Steps(MultiStepLR(0.1;
    25000,50000; 0.1))`` is that schedule (``MultiStepLR`` alone counts epochs, as Nerva's
    schedules do). The wrapped schedule is built with one step per "epoch", so each of its
    parameters in epochs becomes a number of steps; it is evaluated at every step.

    Examples:
        >>> from sprig.schedules import MultiStep
        >>> s = InSteps(MultiStep(1.0, (3,), 0.5))
        >>> [s(i) for i in range(5)]
        [1.0, 1.0, 1.0, 0.5, 0.5]
    """

    name: ClassVar[str] = "in_steps"
    schedule: Callable[[int], float]

    def __post_init__(self) -> None:
        _check_schedule(self.schedule)

    def __call__(self, step: int) -> float:
        """The learning rate at ``step``."""
        return float(self.schedule(check_step(step)))
