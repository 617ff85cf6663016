r"""Metrics of an ensemble of heads, from the heads' logits (NumPy; shared by sprig and torch).

For ``M`` heads with logits ``Z_m (N, C)`` and labels ``y (N,)``:

* the ensemble prediction averages the logits: ``Z = (1/M) Σ_m Z_m`` (NeuroTrails' rule, CV
  ``output.mean(dim=0)``, LLM ``sum(logits)/M``), then ``p = softmax(Z)``;
* **accuracy** ``= mean(argmax p == y)``;
* **NLL** ``= −mean log p[y]`` (natural log; for a language model this is the loss, and the
  perplexity is ``exp(NLL)``);
* **ECE** (expected calibration error, Guo et al. 2017) with ``B`` equal-width confidence bins
  (default ``B = 15``): confidence ``c = max p``, bin ``b`` holds the ``c`` in
  ``((b−1)/B, b/B]`` (``c = 0`` goes to the first bin), ``ECE = Σ_b (n_b/N) |acc_b − conf_b|``;
* **disagreement** (prediction diversity, Fort et al. 2019, as FreeTickets/NeuroTrails): the
  fraction of samples on which two heads' ``argmax`` differ, averaged over the ``M(M−1)/2``
  pairs (0 for one head).

Examples:
    >>> import numpy as np
    >>> heads = [np.array([[2.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 2.0], [0.0, 3.0]])]
    >>> disagreement(heads)
    0.5
    >>> ensemble_logits(heads).tolist()
    [[1.0, 1.0], [0.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = [
    "ECE_BINS",
    "disagreement",
    "ece",
    "ensemble_logits",
    "evaluate_heads",
    "log_softmax",
    "nll",
]

#: Default number of equal-width confidence bins of :func:`ece`.
ECE_BINS = 15


def _heads(logits: Any) -> list[np.ndarray]:
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        logits = [logits]
    out = [np.asarray(z, dtype=np.float64) for z in logits]
    if not out:
        raise DataError("need the logits of at least one head")
    shape = out[0].shape
    if len(shape) != 2 or any(z.shape != shape for z in out):
        raise DataError(
            f"every head's logits must be one (N, classes) array, got shapes "
            f"{[z.shape for z in out]}"
        )
    return out


def _labels(y: Any, n: int, classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise DataError(f"labels must be {n} integers, got shape {y.shape} dtype {y.dtype}")
    if n and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise DataError(f"labels must be in 0..{classes - 1}, got {int(y.min())}..{int(y.max())}")
    return y.astype(np.int64)


def ensemble_logits(logits: Sequence[Any]) -> np.ndarray:
    """The mean of the heads' logits ``(N, C)`` (float64)."""
    hs = _heads(logits)
    return np.mean(np.stack(hs), axis=0)


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise ``log softmax`` (stable)."""
    Z = np.asarray(Z, dtype=np.float64)
    m = Z.max(axis=1, keepdims=True)
    return Z - m - np.log(np.sum(np.exp(Z - m), axis=1, keepdims=True))


def nll(Z: np.ndarray, y: Any) -> float:
    """Mean negative log-likelihood ``−mean log softmax(Z)[y]`` of logits ``Z (N, C)``."""
    Z = np.asarray(Z, dtype=np.float64)
    y = _labels(y, Z.shape[0], Z.shape[1])
    lp = log_softmax(Z)
    return float(-np.mean(lp[np.arange(y.size), y]))


def ece(probs: np.ndarray, y: Any, bins: int = ECE_BINS) -> float:
    """Expected calibration error of class probabilities ``(N, C)`` with ``bins`` equal-width
    confidence bins (module docstring).

    >>> round(ece(np.array([[0.9, 0.1], [0.6, 0.4]]), [0, 1], bins=10), 10)
    0.35
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    P = np.asarray(probs, dtype=np.float64)
    y = _labels(y, P.shape[0], P.shape[1])
    if y.size == 0:
        return 0.0
    conf = P.max(axis=1)
    correct = (np.argmax(P, axis=1) == y).astype(np.float64)
    b = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for k in range(bins):
        sel = b == k
        n = int(sel.sum())
        if n:
            total += n / y.size * abs(float(correct[sel].mean()) - float(conf[sel].mean()))
    return total


def disagreement(logits: Sequence[Any]) -> float:
    """Mean over pairs of heads of the fraction of samples whose ``argmax`` differ."""
    hs = _heads(logits)
    preds = [np.argmax(z, axis=1) for z in hs]
    pairs = [
        float(np.mean(preds[i] != preds[j]))
        for i in range(len(preds))
        for j in range(i + 1, len(preds))
    ]
    return float(np.mean(pairs)) if pairs else 0.0


def evaluate_heads(logits: Sequence[Any], y: Any, *, bins: int = ECE_BINS) -> dict[str, Any]:
    """Accuracy, NLL, ECE and disagreement of the ensemble (mean of logits), with each head's
    own accuracy and NLL (``head_accuracy``, ``head_nll`` lists)."""
    hs = _heads(logits)
    Z = ensemble_logits(hs)
    y = _labels(y, Z.shape[0], Z.shape[1])
    P = np.exp(log_softmax(Z))
    return {
        "accuracy": float(np.mean(np.argmax(Z, axis=1) == y)),
        "nll": nll(Z, y),
        "ece": ece(P, y, bins),
        "disagreement": disagreement(hs),
        "head_accuracy": [float(np.mean(np.argmax(z, axis=1) == y)) for z in hs],
        "head_nll": [nll(z, y) for z in hs],
    }
