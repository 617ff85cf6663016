r"""SEFT: repair a post-training-pruned model by sparse fine-tuning (Xiao et al. 2025).

The pipeline, for sprig's own models and for PyTorch models:

1. **post-training pruning** of a trained dense model to a target density, by magnitude or by
   Wanda (``|w_ij| · ‖X_j‖₂`` from calibration batches, per output row):
   :func:`sprig.seft.pruning.prune_model` (sprig models) and :func:`sprig.seft.torch.prune`
   (PyTorch models); the pruned layers are truly sparse (CSR, no masks);
2. **sparse fine-tuning** with the ``seft`` DST algorithm
   (:func:`sprig.sparsity.algorithms.seft`, spec ``"SEFT(fraction=0.1, every=100)"``): every
   ΔT steps regrow the non-stored positions of largest ``|∇w|`` and prune back as many stored
   weights of smallest sensitivity ``|w · ∇w|``, so nnz stays exactly at the target; sprig's
   trainer runs it with ``--dst SEFT`` and PyTorch models through
   :class:`sprig.torch.TopologyUpdater` (:func:`sprig.seft.torch.finetune`);
3. **baselines** in the same code: frozen topology (``static``), dense fine-tuning (sparsity
   lost) and LoRA adapters merged at the end (:mod:`sprig.seft.lora` for sprig models,
   :func:`sprig.seft.torch.finetune` for PyTorch models).

From the command line (sprig models), one command from a trained dense run::

    sprig seft RUN_DIR --density 0.3 --pruning wanda --method seft   # or static, dense, lora

or the same pipeline through ``sprig train``::

    sprig train ... --save-weights dense.npz                     # a trained dense model
    sprig train ... --load-weights dense.npz --post-pruning wanda \
        --overall-density 0.3 --dst 'SEFT(fraction=0.1, every=20)'

See ``docs/seft.md``. :mod:`sprig.seft.torch` needs PyTorch (``sprig[torch]``).
"""

from .lora import LoRALinear as LoRALinear
from .lora import add_lora as add_lora
from .lora import merge_lora as merge_lora
from .lora import merged_sparsity as merged_sparsity
from .pruning import METHODS as METHODS
from .pruning import ActivationNorms as ActivationNorms
from .pruning import densify as densify
from .pruning import keep_pattern as keep_pattern
from .pruning import prune_dense as prune_dense
from .pruning import prune_model as prune_model
from .pruning import wanda_scores as wanda_scores

__all__ = [
    "METHODS",
    "ActivationNorms",
    "LoRALinear",
    "add_lora",
    "densify",
    "keep_pattern",
    "merge_lora",
    "merged_sparsity",
    "prune_dense",
    "prune_model",
    "wanda_scores",
]
