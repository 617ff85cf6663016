"""A small GPT-style language model (nanoGPT-like) whose every projection is a plain ``nn.Linear``.

Token + position embeddings, ``n_layer`` pre-LayerNorm blocks (causal self-attention, then a
two-layer GELU MLP, each with a residual connection), a final LayerNorm and a separate linear
head. The attention projections are four ``nn.Linear`` modules (``q``, ``k``, ``v``, ``out``)
rather than :class:`torch.nn.MultiheadAttention`, so :func:`sprig.torch.sparsify` can replace
every one of them (and the MLP's ``fc`` / ``proj``) with a truly sparse layer; the embeddings,
norms and the head are separate modules that are easy to exclude by name (``"head"``,
``"tok_emb"``, ...).

The blocks sit in an ``nn.ModuleList`` (``model.blocks``) and :meth:`GPT.embed`,
:meth:`GPT.run_blocks` and :meth:`GPT.logits` expose the three stages, so a trunk + heads model
(NeuroTrails) can reuse them: ``h = model.embed(idx); h = model.run_blocks(h, 0, 2)`` runs the
first two blocks only.

>>> import torch
>>> cfg = GPTConfig(vocab_size=11, context=8, n_layer=2, width=16, n_head=2)
>>> model = GPT(cfg)
>>> idx = torch.zeros(3, 5, dtype=torch.long)
>>> model(idx).shape
torch.Size([3, 5, 11])
>>> sorted({name.split(".")[-1] for name, m in model.named_modules()
...         if isinstance(m, torch.nn.Linear)})
['fc', 'head', 'k', 'out', 'proj', 'q', 'v']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import ConfigError, DataError

__all__ = ["GPT", "GPTConfig", "block_linear_names"]


@dataclass(frozen=True)
class GPTConfig:
    """Shape of a :class:`GPT`.

    ``vocab_size`` tokens, ``context`` positions at most, ``n_layer`` blocks of width ``width``
    with ``n_head`` attention heads (``width`` must be a multiple of ``n_head``), an MLP of
    hidden width ``mlp_ratio * width``, dropout probability ``dropout`` (0 = off) and biases
    in every linear layer and norm when ``bias``.
    """

    vocab_size: int
    context: int = 128
    n_layer: int = 4
    width: int = 256
    n_head: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context", "n_layer", "width", "n_head", "mlp_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.width % self.n_head:
            raise ConfigError(
                f"GPTConfig.width must be a multiple of n_head, got width={self.width}, "
                f"n_head={self.n_head}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention from four ``nn.Linear`` projections."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.q = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)
        self.k = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)
        self.v = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)
        self.out = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        H = self.n_head

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, C/H)

        y = F.scaled_dot_product_attention(
            heads(self.q(x)),
            heads(self.k(x)),
            heads(self.v(x)),
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=True,
        )
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    """``proj(gelu(fc(x)))`` with hidden width ``mlp_ratio * width``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.width, cfg.mlp_ratio * cfg.width, bias=cfg.bias)
        self.proj = nn.Linear(cfg.mlp_ratio * cfg.width, cfg.width, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.mlp = MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Decoder-only transformer LM: ``tok_emb``/``pos_emb`` → ``blocks`` → ``ln_f`` → ``head``.

    ``forward(idx)`` maps an integer ``(batch, T)`` tensor of token ids (``T <= context``) to
    ``(batch, T, vocab_size)`` logits; :meth:`loss` is the mean next-token cross-entropy.
    Initialisation follows GPT-2: normal(0, 0.02) weights, zero biases, and the residual output
    projections (``attn.out``, ``mlp.proj``) scaled by ``1/sqrt(2 n_layer)``. Seed with
    ``torch.manual_seed`` (or pass ``generator``) for a reproducible model.
    """

    def __init__(self, cfg: GPTConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos_emb = nn.Embedding(cfg.context, cfg.width)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=cfg.bias)
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """GPT-2 initialisation (see the class docstring)."""
        residual_std = 0.02 / math.sqrt(2 * self.cfg.n_layer)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                std = residual_std if name.endswith(("attn.out", "mlp.proj")) else 0.02
                module.weight.normal_(0.0, std, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.normal_(0.0, 0.02, generator=generator)
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token + position embeddings of ``idx`` ``(batch, T)`` → ``(batch, T, width)``."""
        if idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32):
            raise DataError(
                f"GPT input must be a 2-D integer tensor (batch, T), got shape "
                f"{tuple(idx.shape)} and dtype {idx.dtype}"
            )
        n = idx.shape[1]
        if n > self.cfg.context:
            raise DataError(f"GPT input length {n} exceeds the context {self.cfg.context}")
        pos = torch.arange(n, device=idx.device)
        return self.drop(self.tok_emb(idx) + self.pos_emb(pos))

    def run_blocks(self, h: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Apply ``blocks[start:stop]`` to the hidden states ``h``."""
        for block in self.blocks[start:stop]:
            h = block(h)
        return h

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Final LayerNorm and head: hidden states → ``(..., vocab_size)`` logits."""
        return self.head(self.ln_f(h))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.logits(self.run_blocks(self.embed(idx)))

    def loss(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the next-token predictions ``self(idx)`` against ``targets``."""
        logits = self(idx)
        if targets.shape != idx.shape:
            raise DataError(
                f"GPT targets must have the input's shape {tuple(idx.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        new_tokens: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``new_tokens`` sampled tokens to ``idx`` ``(batch, T)`` (``temperature`` > 0)."""
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature!r}")
        for _ in range(new_tokens):
            logits = self(idx[:, -self.cfg.context :])[:, -1] / temperature
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


def block_linear_names(model: GPT) -> list[str]:
    """Qualified names of the ``nn.Linear`` layers inside ``model.blocks`` (the ones a sparse
    GPT makes sparse: every attention and MLP projection; not the head).

    >>> m = GPT(GPTConfig(vocab_size=5, context=4, n_layer=1, width=8, n_head=2))
    >>> block_linear_names(m)
    ['blocks.0.attn.q', 'blocks.0.attn.k', 'blocks.0.attn.v', 'blocks.0.attn.out', \
'blocks.0.mlp.fc', 'blocks.0.mlp.proj']
    """
    return [
        f"blocks.{name}" for name, m in model.blocks.named_modules() if isinstance(m, nn.Linear)
    ]
