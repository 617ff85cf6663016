r"""Numerically stable element-wise and column-wise primitives shared by activations, losses
and layers.

All functions preserve the input dtype (float32 stays float32) and never emit floating-point
warnings for finite inputs: the only benign event, underflow of ``exp`` of a very negative
number to 0, is silenced locally.

Column-wise functions (``softmax``, ``log_softmax``) act over axis 0 of a feature-major
``(K, N)`` batch, i.e. over the classes of each example.
"""

from __future__ import annotations

import numpy as np

from ..typing import FloatArray


def sigmoid(X: FloatArray) -> FloatArray:
    r"""Logistic function without overflow.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}} =
        \begin{cases} 1/(1+e^{-|x|}) & x \ge 0 \\ e^{-|x|}/(1+e^{-|x|}) & x < 0 \end{cases}

    Only ``e^{-|x|} ≤ 1`` is ever computed, so nothing overflows. Cost: O(size).
    """
    with np.errstate(under="ignore"):
        E = np.exp(-np.abs(X))
        D = 1 + E
        return np.where(X >= 0, 1 / D, E / D)


def softplus(X: FloatArray) -> FloatArray:
    r"""Softplus without overflow: :math:`\log(1+e^x) = \max(x,0) + \log(1+e^{-|x|})`."""
    with np.errstate(under="ignore"):
        return np.maximum(X, 0) + np.log1p(np.exp(-np.abs(X)))


def log_sigmoid(X: FloatArray) -> FloatArray:
    r"""Stable :math:`\log\sigma(x) = -\operatorname{softplus}(-x)`."""
    return -softplus(-X)


def log_softmax(X: FloatArray) -> FloatArray:
    r"""Stable log-softmax over axis 0 (classes) of a ``(K, N)`` batch.

    .. math:: \operatorname{logsoftmax}(X) = X - 1_K \big(m + \log 1_K^\top e^{X - 1_K m}\big),
        \quad m = \max_k X_{k\cdot}

    Cost: O(K N).
    """
    M = X.max(axis=0, keepdims=True)
    S = X - M
    with np.errstate(under="ignore"):
        lse = np.log(np.exp(S).sum(axis=0, keepdims=True))
    out: FloatArray = S - lse
    return out


def softmax(X: FloatArray) -> FloatArray:
    r"""Stable softmax over axis 0 (classes) of a ``(K, N)`` batch.

    .. math:: \operatorname{softmax}(X) = e^{X - 1_K m} \oslash
        \big(1_K 1_K^\top e^{X - 1_K m}\big), \quad m = \max_k X_{k\cdot}

    Cost: O(K N).
    """
    M = X.max(axis=0, keepdims=True)
    with np.errstate(under="ignore"):
        E = np.exp(X - M)
        out: FloatArray = E / E.sum(axis=0, keepdims=True)
    return out
