r"""Per-layer densities from one overall density: uniform, Erdős–Rényi (ER) and ERK.

All functions are pure: ``(layer shapes, overall density, ...) -> list of per-layer densities``.
A layer shape is ``(out_features, in_features)`` (the weight's shape). :func:`layer_nnz` turns
densities into the exact number of stored entries per layer with
:func:`sprig.matrices.nnz_from_density` (rounded half away from zero, as Nerva).

ER / ERK (Mocanu et al. 2018; Evci et al. 2020, ``rigl/sparse_utils.py``; Nerva's
``compute_sparse_layer_densities``, reference/nerva.md §5): the raw score of layer ``l`` is

.. math:: p_l = \Big(\frac{n_{in} + n_{out}}{n_{in}\, n_{out}}\Big)^{power}

and the densities are :math:`d_l = \varepsilon p_l` with one scale :math:`\varepsilon` chosen so
that the total number of weights matches the overall density :math:`d`:

.. math:: \varepsilon = \frac{\sum_{l \notin D} d N_l - \sum_{l \in D} (1 - d) N_l}
                             {\sum_{l \notin D} p_l N_l}

where :math:`N_l` is the layer size and :math:`D` the set of layers made dense. While
:math:`\max_l \varepsilon p_l > 1`, every layer attaining that maximum raw score joins
:math:`D` (density 1) and :math:`\varepsilon` is recomputed. For 2-D weights ERK and ER use the
same formula; both names are kept because the specs and the papers use both.

Examples (the worked values of Nerva's README and unit test):

>>> shapes = shapes_from_sizes([3072, 1024, 1024, 10])
>>> shapes
[(1024, 3072), (1024, 1024), (10, 1024)]
>>> [round(d, 7) for d in erk(shapes, 0.05)]
[0.0423828, 0.0635742, 1.0]
>>> layer_nnz(shapes, erk(shapes, 0.05))
[133325, 66662, 10240]
>>> [round(d, 7) for d in erk(shapes_from_sizes([3072, 1024, 512, 10]), 0.05)]
[0.0412997, 0.0929244, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..matrices import nnz_from_density

Shape = tuple[int, int]
#: ``(shapes, overall density) -> per-layer densities``.
DensityRule = Callable[[Sequence[Shape], float], list[float]]

__all__ = [
    "DENSITY_RULES",
    "densities",
    "erdos_renyi",
    "erk",
    "layer_nnz",
    "set_epsilon",
    "shapes_from_sizes",
    "uniform",
]


def _check_density(density: float, what: str = "density") -> float:
    d = float(density)
    if not np.isfinite(d) or not (0.0 < d <= 1.0):
        raise ValueError(f"{what} must be in (0, 1], got {density!r}")
    return d


def _check_shapes(shapes: Sequence[Shape]) -> list[Shape]:
    out: list[Shape] = []
    for s in shapes:
        if len(s) != 2 or any(int(v) != v or v <= 0 for v in s):
            raise ValueError(f"layer shapes must be pairs of positive integers, got {s!r}")
        out.append((int(s[0]), int(s[1])))
    if not out:
        raise ValueError("need at least one layer shape")
    return out


def shapes_from_sizes(sizes: Sequence[int]) -> list[Shape]:
    """Weight shapes ``(out, in)`` of an MLP with layer sizes ``sizes`` (inputs first).

    >>> shapes_from_sizes([784, 300, 100, 10])
    [(300, 784), (100, 300), (10, 100)]
    """
    if len(sizes) < 2:
        raise ValueError(f"need at least two layer sizes, got {list(sizes)!r}")
    return _check_shapes([(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)])


def uniform(shapes: Sequence[Shape], density: float) -> list[float]:
    """Every layer gets the overall density.

    >>> uniform([(300, 784), (10, 300)], 0.1)
    [0.1, 0.1]
    """
    d = _check_density(density)
    return [d] * len(_check_shapes(shapes))


def erk(shapes: Sequence[Shape], density: float, *, power: float = 1.0) -> list[float]:
    """Erdős–Rényi-Kernel densities with the dense-layer fallback (see the module docstring).

    ``power`` exponentiates the raw score as in ``rigl`` (``erk_power_scale``); Nerva multiplies
    instead, which cancels, so ``power=1`` (the default) reproduces Nerva exactly. A layer
    that would exceed density 1 becomes dense and the others are rescaled, iterating until
    all densities are in ``(0, 1]``.

    Raises:
        ValueError: if ``density`` is not in ``(0, 1]`` (the message names the value).

    >>> [round(x, 12) for x in erk([(10, 10)], 0.3)]
    [0.3]
    """
    d = _check_density(density)
    sh = _check_shapes(shapes)
    if d == 1.0:
        return [1.0] * len(sh)
    sizes = np.array([r * c for r, c in sh], dtype=np.float64)
    raw = np.array([((r + c) / (r * c)) ** power for r, c in sh], dtype=np.float64)
    dense = np.zeros(len(sh), dtype=bool)
    while True:
        free = ~dense
        rhs = np.sum(d * sizes[free]) - np.sum((1.0 - d) * sizes[dense])
        eps = rhs / np.sum(raw[free] * sizes[free])
        max_raw = raw[free].max()
        if max_raw * eps > 1.0:
            dense |= free & (raw == max_raw)
            if dense.all():  # cannot happen for d < 1, kept as a guard
                return [1.0] * len(sh)
            continue
        return [1.0 if dense[i] else float(eps * raw[i]) for i in range(len(sh))]


def erdos_renyi(shapes: Sequence[Shape], density: float) -> list[float]:
    """Erdős–Rényi densities: raw score ``(n_in + n_out) / (n_in · n_out)``, dense fallback.

    Identical to :func:`erk` for 2-D weights (ERK differs only for convolution kernels).

    >>> [round(x, 7) for x in erdos_renyi(shapes_from_sizes([3072, 1024, 1024, 10]), 0.05)]
    [0.0423828, 0.0635742, 1.0]
    """
    return erk(shapes, density, power=1.0)


def set_epsilon(shapes: Sequence[Shape], epsilon: float = 20.0) -> list[float]:
    """SET's Erdős–Rényi densities from ``ε``: ``n_conn = ε (n_in + n_out)`` per layer.

    Mocanu et al. 2018 (default ``ε = 20``; QuickSelection uses 13). The density of a layer is
    ``ε (n_in + n_out) / (n_in · n_out)``, clipped to 1 (a layer too small for ``ε`` becomes
    dense). There is no overall density to hit: the overall density follows from ``ε``.

    >>> set_epsilon([(1000, 784)], 20)
    [0.04551020408163265]
    >>> set_epsilon([(10, 10)], 20)
    [1.0]
    """
    eps = float(epsilon)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    return [min(1.0, eps * (r + c) / (r * c)) for r, c in _check_shapes(shapes)]


def layer_nnz(shapes: Sequence[Shape], densities: Sequence[float]) -> list[int]:
    """Exact stored entries per layer: ``nnz_from_density(shape, d)`` (half away from zero).

    >>> layer_nnz([(1024, 3072)], [0.0423828125])
    [133325]
    """
    sh = _check_shapes(shapes)
    if len(densities) != len(sh):
        raise ValueError(f"got {len(densities)} densities for {len(sh)} layers")
    return [nnz_from_density(s, _check_density(d)) for s, d in zip(sh, densities, strict=True)]


#: Density rules by name (for specs and the CLI).
DENSITY_RULES: dict[str, DensityRule] = {
    "uniform": uniform,
    "er": erdos_renyi,
    "erdos_renyi": erdos_renyi,
    "erk": erk,
}


def densities(
    rule: str, shapes: Sequence[Shape], density: float, *, dense: Sequence[int] = ()
) -> list[float]:
    """Look up a rule in :data:`DENSITY_RULES` by name and apply it.

    ``dense`` lists layers exempted from sparsity (density 1; e.g. the first and last layer,
    as RigL and sparsimony allow): the overall ``density`` is then the density of the other
    layers, which the rule splits among them (the exempted layers are outside the budget).

    Raises:
        ValueError: on an unknown rule name (the message lists the known ones), a ``dense``
            index outside the layers, or every layer exempted.

    >>> densities("uniform", [(4, 4)], 0.5)
    [0.5]
    >>> densities("uniform", [(4, 4), (4, 4), (4, 2)], 0.25, dense=[0, 2])
    [1.0, 0.25, 1.0]
    """
    try:
        fn = DENSITY_RULES[rule]
    except KeyError:
        raise ValueError(
            f"unknown density rule {rule!r}; known: {', '.join(sorted(DENSITY_RULES))}"
        ) from None
    exempt = sorted(set(dense))
    if any(not 0 <= i < len(shapes) for i in exempt):
        raise ValueError(f"dense layers {exempt} must be in 0..{len(shapes) - 1}")
    rest = [i for i in range(len(shapes)) if i not in exempt]
    if not rest:
        raise ValueError("every layer is exempted from sparsity; nothing is left to sparsify")
    out = [1.0] * len(shapes)
    for i, d in zip(rest, fn([shapes[i] for i in rest], density), strict=True):
        out[i] = d
    return out
