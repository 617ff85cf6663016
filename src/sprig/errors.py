"""Exceptions raised by sprig. Every message names the bad value and what is allowed."""

from __future__ import annotations


class SprigError(Exception):
    """Base class of sprig's own errors (the CLI prints these as one line, no traceback)."""


class ConfigError(SprigError, ValueError):
    """A spec, option or argument is invalid."""


class DataError(SprigError, ValueError):
    """A dataset or batch is invalid (missing file, wrong shape, NaN/inf values...)."""


class CheckpointError(SprigError, ValueError):
    """A checkpoint or weight file is missing, corrupt or does not match the model."""


class DivergenceError(SprigError, FloatingPointError):
    """Training produced a NaN or infinite loss, gradient or weight."""
