r"""NeuroTrails on PyTorch models: a trunk + heads ``nn.Module`` from a backbone with blocks.

A backbone is split into three parts (:func:`split`): a *stem* (embeddings, a first
convolution...), its *blocks* (an ``nn.ModuleList``) and a *tail* (final norm + classifier /
LM head). Models with ``stem``, ``blocks`` and ``tail`` attributes split themselves; sprig's
:class:`~sprig.torch.models.GPT` is split into ``(tok_emb, pos_emb, drop)``, ``blocks`` and
``(ln_f, head)``; anything else passes ``split=``.

:func:`neurotrails` builds ``M`` independently initialised copies of the backbone and keeps
the stem and the first ``B − k`` blocks of copy 0 (the shared trunk) and the last ``k`` blocks
and the tail of copy ``m`` (head ``m``), as NeuroTrails' ``resnet_split.py`` / ``TreeNetLlama``.
The trunk's parameters exist once; autograd sums the heads' gradients into them. With
``density < 1`` the tree's ``nn.Linear`` layers are replaced by truly sparse
:class:`~sprig.torch.SparseLinear` layers by :func:`sprig.torch.sparsify` (ERK over the whole
tree; the classifiers ``heads.<m>.tail.head`` stay dense by its default exclusion), to be
trained with :class:`~sprig.torch.TopologyUpdater` and
:func:`~sprig.neurotrails.algorithm.neurotrails_dst`.

``TorchTree.forward(x)`` returns the heads' outputs stacked on a new first axis
``(M, *batch, classes)``; :meth:`TorchTree.predict` is their mean (the ensemble prediction:
the mean of the logits); :meth:`TorchTree.heads_loss` combines one loss per head by ``"mean"``
(vision) or ``"sum"`` (language models).

Baselines from the same function: ``heads=1, head_blocks=B`` is the single backbone (dense, or
sparse with ``density``); ``head_blocks=B, shared_stem=False`` a full ensemble of ``M``
independent models; ``density=1`` with ``1 <= k < B`` is TreeNet.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

__all__ = ["Head", "TorchTree", "count", "evaluate", "neurotrails", "split", "train"]

Split = Callable[[nn.Module], tuple[nn.Module, Sequence[nn.Module], nn.Module]]


class _GPTStem(nn.Module):
    """Token + position embeddings of a :class:`~sprig.torch.models.GPT` (its ``embed``)."""

    def __init__(self, gpt: Any) -> None:
        super().__init__()
        self.cfg = gpt.cfg
        self.tok_emb, self.pos_emb, self.drop = gpt.tok_emb, gpt.pos_emb, gpt.drop

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        from ..torch.models.gpt import GPT

        return GPT.embed(self, idx)  # type: ignore[arg-type]


class _GPTTail(nn.Module):
    """Final LayerNorm and LM head of a GPT."""

    def __init__(self, gpt: Any) -> None:
        super().__init__()
        self.ln_f, self.head = gpt.ln_f, gpt.head

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_f(h))


def split(model: nn.Module) -> tuple[nn.Module, Sequence[nn.Module], nn.Module]:
    """``(stem, blocks, tail)`` of a backbone (module docstring).

    Raises:
        ConfigError: the model has no known split.
    """
    if all(hasattr(model, a) for a in ("stem", "blocks", "tail")):
        parts: Any = (model.stem, list(model.blocks), model.tail)  # type: ignore[arg-type]
        return parts
    from ..torch.models.gpt import GPT

    if isinstance(model, GPT):
        return _GPTStem(model), list(model.blocks), _GPTTail(model)
    raise ConfigError(
        f"cannot split a {type(model).__name__} into stem, blocks and tail: give it stem/"
        "blocks/tail attributes or pass split=(model -> (stem, blocks, tail))"
    )


class Head(nn.Module):
    """One head: optionally its own stem (full ensembles), its blocks, its tail."""

    def __init__(
        self, blocks: Sequence[nn.Module], tail: nn.Module, stem: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList(blocks)
        self.tail = tail

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)
        return self.tail(h)


class TorchTree(nn.Module):
    """``stem → trunk blocks → M heads`` (module docstring).

    Args:
        stem: shared stem, or ``None`` when every head has its own.
        trunk: the shared blocks (may be empty).
        heads: the heads, at least one.
    """

    def __init__(
        self, stem: nn.Module | None, trunk: Sequence[nn.Module], heads: Sequence[Head]
    ) -> None:
        super().__init__()
        if not heads:
            raise ConfigError("a tree needs at least one head")
        if stem is None and any(h.stem is None for h in heads):
            raise ConfigError("without a shared stem every head needs its own")
        self.stem = stem
        self.trunk = nn.ModuleList(trunk)
        self.heads = nn.ModuleList(heads)

    @property
    def num_heads(self) -> int:
        return len(self.heads)

    def forward_heads(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every head's output (a list of ``(*batch, classes)`` tensors)."""
        shared = None
        if self.stem is not None:
            shared = self.stem(x)
            for block in self.trunk:
                shared = block(shared)
        outs = []
        for head in self.heads:
            stem: Any = head.stem
            h = shared if stem is None else stem(x)
            outs.append(head(h))
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The heads' outputs stacked: ``(M, *batch, classes)``."""
        return torch.stack(self.forward_heads(x))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The ensemble prediction: the mean of the heads' logits."""
        return self(x).mean(dim=0)

    @staticmethod
    def heads_loss(
        outputs: torch.Tensor | Sequence[torch.Tensor],
        target: torch.Tensor,
        combine: str = "mean",
        loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``combine`` (``"mean"`` or ``"sum"``) over heads of ``loss(output_m, target)``
        (default: cross-entropy over the last axis, any leading batch axes)."""
        if combine not in ("mean", "sum"):
            raise ConfigError(f"combine must be 'mean' or 'sum', got {combine!r}")
        fn = loss or _cross_entropy
        total = sum(fn(o, target) for o in outputs)
        assert isinstance(total, torch.Tensor)
        return total / len(outputs) if combine == "mean" else total


def _cross_entropy(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(o.reshape(-1, o.shape[-1]), t.reshape(-1))


def _copies(backbone: nn.Module | Callable[[], nn.Module], n: int, seed: int) -> list[nn.Module]:
    """``n`` independently initialised backbones: ``factory()`` under ``torch.manual_seed``
    ``(seed, m)``, or deep copies of a module re-initialised with ``reset_parameters``."""
    out = []
    for m in range(n):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) * 1_000_003 + m)
            if isinstance(backbone, nn.Module):
                c = copy.deepcopy(backbone)
                if m > 0:
                    _reinit(c)
            else:
                c = backbone()
                if not isinstance(c, nn.Module):
                    raise ConfigError(f"the backbone factory returned a {type(c).__name__}")
        out.append(c)
    return out


def _reinit(model: nn.Module) -> None:
    reset = getattr(model, "reset_parameters", None)
    if callable(reset):
        reset()
        return
    found = False
    for mod in model.modules():
        r = getattr(mod, "reset_parameters", None)
        if mod is not model and callable(r):
            r()
            found = True
    if not found:
        raise ConfigError(f"cannot re-initialise a {type(model).__name__}: pass a factory")


def neurotrails(
    backbone: nn.Module | Callable[[], nn.Module],
    *,
    heads: int = 3,
    head_blocks: int = 1,
    density: float | None = None,
    distribution: str = "erk",
    exclude: Iterable[Any] | None = None,
    shared_stem: bool = True,
    seed: int = 0,
    split_fn: Split | None = None,
) -> TorchTree:
    """A NeuroTrails tree (module docstring) of ``heads`` heads with ``head_blocks`` blocks each.

    Args:
        backbone: a factory ``() -> nn.Module`` (called once per copy under
            ``torch.manual_seed``) or a module (copy 0; the others are deep copies re-initialised
            by ``reset_parameters``).
        heads: ``M >= 1``.
        head_blocks: blocks per head, ``1..B`` (``B``: the backbone's blocks).
        density: overall density of the tree's covered linear layers (``None`` or 1: dense).
        distribution: ``"erk"`` (default), ``"er"`` or ``"uniform"``.
        exclude: layers left dense (default: :data:`sprig.torch.convert.DEFAULT_EXCLUDE`, the
            classifiers).
        shared_stem: ``False`` gives every head its own stem (with ``head_blocks=B``: a full
            ensemble of independent models).
        seed: seeds the copies and the sparse topologies.
        split_fn: ``model -> (stem, blocks, tail)`` (default :func:`split`).

    Raises:
        ConfigError: on a bad ``heads``, ``head_blocks`` or ``density``.

    Examples:
        >>> from sprig.torch.models import GPT, GPTConfig
        >>> cfg = GPTConfig(vocab_size=11, context=8, n_layer=3, width=16, n_head=2)
        >>> tree = neurotrails(lambda: GPT(cfg), heads=3, head_blocks=1, density=0.5)
        >>> len(tree.trunk), [len(h.blocks) for h in tree.heads]
        (2, [1, 1, 1])
        >>> idx = torch.zeros(2, 5, dtype=torch.long)
        >>> tree(idx).shape, tree.predict(idx).shape  # (heads, batch, T, vocab); their mean
        (torch.Size([3, 2, 5, 11]), torch.Size([2, 5, 11]))
    """
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ConfigError(f"heads must be a positive integer, got {heads!r}")
    parts = [(split_fn or split)(c) for c in _copies(backbone, heads, seed)]
    n = len(parts[0][1])
    if (
        isinstance(head_blocks, bool)
        or not isinstance(head_blocks, int)
        or not (1 <= head_blocks <= n)
    ):
        raise ConfigError(
            f"head_blocks must be an integer in 1..{n} (the backbone has {n} blocks), "
            f"got {head_blocks!r}"
        )
    stem0, blocks0, _ = parts[0]
    tree = TorchTree(
        stem0 if shared_stem else None,
        list(blocks0[: n - head_blocks]),
        [Head(list(b[n - head_blocks :]), t, None if shared_stem else s) for s, b, t in parts],
    )
    if density is not None and density < 1.0:
        from ..torch import sparsify
        from ..torch.convert import DEFAULT_EXCLUDE

        sparsify(
            tree,
            float(density),
            distribution=distribution,
            exclude=DEFAULT_EXCLUDE if exclude is None else exclude,
            rng=seed,
        )
    elif density is not None and not (isinstance(density, int | float) and density == 1.0):
        raise ConfigError(f"density must be in (0, 1], got {density!r}")
    return tree


def count(model: nn.Module) -> dict[str, int]:
    """Per prediction (one input row / token): ``parameters`` (every trainable parameter of
    the tree once; a sparse layer's stored values), ``weights_nnz`` (stored weights of the
    linear layers) and ``flops`` = ``2 · weights_nnz`` (linear layers only: embedding lookups,
    convolutions, attention products, norms and activations are not counted)."""
    from ..torch.linear import SparseLinear

    nnz = 0
    for m in model.modules():
        if isinstance(m, SparseLinear):
            nnz += m.nnz
        elif isinstance(m, nn.Linear):
            nnz += m.weight.numel()
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"parameters": int(params), "weights_nnz": int(nnz), "flops": 2 * int(nnz)}


def train(
    tree: TorchTree,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    *,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    combine: str = "sum",
    warmup: int = 0,
    prune: str = "soft_magnitude",
    temperature: float = 3.0,
    drop_rate: float = 0.5,
    every: int = 50,
    end: float = 1.0,
    seed: int = 0,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Train ``tree`` for ``steps`` steps of ``batches`` (``(x, y)`` pairs) with AdamW, a linear
    warm-up of ``warmup`` steps then a cosine decay of the learning rate, the heads' losses
    combined by ``combine`` (``"sum"``: NeuroTrails' LLM rule), and — when the tree has sparse
    layers — :func:`~sprig.neurotrails.algorithm.neurotrails_dst` through
    :class:`~sprig.torch.TopologyUpdater` (defaults: NeuroTrails' LLM settings). Returns the
    training loss of every step."""
    import math

    from ..torch.linear import SparseLinear
    from .algorithm import neurotrails_dst

    opt = torch.optim.AdamW(tree.parameters(), lr=lr, weight_decay=weight_decay)

    def factor(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    updater = None
    if any(isinstance(m, SparseLinear) for m in tree.modules()):
        from ..torch import TopologyUpdater

        alg = neurotrails_dst(
            steps, prune=prune, temperature=temperature, drop_rate=drop_rate, every=every, end=end
        )
        updater = TopologyUpdater(tree, opt, alg, seed=seed)
    losses = []
    tree.train()
    for _, (x, y) in zip(range(steps), batches, strict=False):
        opt.zero_grad(set_to_none=True)
        value = TorchTree.heads_loss(tree(x), y, combine, loss)
        value.backward()
        opt.step()
        sched.step()
        if updater is not None:
            updater.step()
        losses.append(float(value.detach()))
    return losses


@torch.no_grad()
def evaluate(
    tree: TorchTree, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, bins: int = 15
) -> dict[str, Any]:
    """:func:`~sprig.neurotrails.metrics.evaluate_heads` of the heads' logits over
    ``batches`` (every leading axis flattened: one prediction per token for a language
    model), with ``perplexity = exp(nll)`` and :func:`count`."""
    import math

    import numpy as np

    from .metrics import evaluate_heads

    tree.eval()
    logits: list[list[np.ndarray]] = [[] for _ in range(tree.num_heads)]
    labels = []
    for x, y in batches:
        for k, o in enumerate(tree.forward_heads(x)):
            logits[k].append(o.reshape(-1, o.shape[-1]).double().cpu().numpy())
        labels.append(y.reshape(-1).cpu().numpy())
    tree.train()
    out = evaluate_heads([np.concatenate(z) for z in logits], np.concatenate(labels), bins=bins)
    out["perplexity"] = math.exp(out["nll"])
    out.update(count(tree))
    return out
