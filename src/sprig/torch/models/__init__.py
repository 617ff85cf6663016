"""Ready-made PyTorch models for sprig.torch (optional extra ``sprig[torch]``)."""

from .gpt import GPT, GPTConfig, block_linear_names

__all__ = ["GPT", "GPTConfig", "block_linear_names"]
