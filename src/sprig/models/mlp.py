"""The multilayer perceptron: a :class:`~sprig.models.model.Model` over a :class:`Sequential`.

Its parameters are named ``"<layer index>.<name>"`` (``"0.weight"``, ``"3.bias"``): the path
names of a sequential tree, so files written before model trees existed keep their keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..layers.base import Layer
from ..layers.linear import Linear, SparseLinear
from ..layers.sequential import Sequential
from ..matrices.csr import CSRMatrix
from ..matrices.remap import Remap
from .model import WEIGHTS_FORMAT, WEIGHTS_FORMATS, Model

__all__ = ["MLP", "WEIGHTS_FORMAT", "WEIGHTS_FORMATS"]


class MLP(Model):
    """A sequential network of dense and sparse layers.

    Args:
        layers: the layers, in order (feature-major :class:`~sprig.layers.base.Layer` s).

    Examples:
        >>> import numpy as np
        >>> from sprig.layers import SparseLinear, ActivationLayer
        >>> from sprig.activations import ReLU
        >>> rng = np.random.default_rng(0)
        >>> model = MLP([SparseLinear(4, 8, density=0.5, rng=rng),
        ...              ActivationLayer(ReLU(), 8), SparseLinear(8, 3, density=0.5, rng=rng)])
        >>> model.predict(np.ones((2, 4), np.float32)).shape
        (2, 3)
        >>> list(model.sparse_weights())
        ['0.weight', '2.weight']
    """

    net: Sequential

    def __init__(self, layers: Sequence[Layer]) -> None:
        super().__init__(Sequential(layers))
        linear = [layer for layer in self.net if isinstance(layer, Linear | SparseLinear)]
        self.in_features = linear[0].in_features
        self.out_features = linear[-1].out_features

    def sparse_layers(self) -> dict[int, SparseLinear]:
        """The truly sparse layers by index (see :meth:`sparse_modules` for path names)."""
        return {i: layer for i, layer in enumerate(self.net) if isinstance(layer, SparseLinear)}

    def linear_layers(self) -> dict[int, Linear | SparseLinear]:
        """Dense and sparse affine layers by index (see :meth:`affine_modules`)."""
        return {i: la for i, la in enumerate(self.net) if isinstance(la, Linear | SparseLinear)}

    def replace_weight(self, name: str | int, weight: CSRMatrix, remap: Remap) -> None:
        """Install an edited sparse weight as parameter ``name`` (a layer index is accepted
        for compatibility: ``3`` means ``"3.weight"``)."""
        if isinstance(name, int):
            layer = self.net[name]
            if not isinstance(layer, SparseLinear):
                raise TypeError(f"layer {name} is not sparse")
            name = f"{name}.weight"
        super().replace_weight(name, weight, remap)
