"""``sprig neurotrails``: train NeuroTrails (sparse multi-head ensembles) or one of its
baselines on a sprig MLP backbone and print the metrics as JSON.

The options (and the ``--config`` TOML file) are those of ``python -m sprig.neurotrails``
(:mod:`sprig.neurotrails.__main__`); bad input ends with one ``sprig: error: ...`` line and exit
status 2.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``neurotrails`` on the ``sprig`` parser."""
    from ..neurotrails.__main__ import add_arguments

    p = sub.add_parser(
        "neurotrails",
        help="train a NeuroTrails sparse multi-head ensemble (or a baseline)",
        description="NeuroTrails (reference/dst.md §5.3): a shared sparse trunk and M sparse "
        "heads (independent copies of the backbone's last k blocks) trained together with one "
        "dynamic sparse training; prints accuracy, NLL, ECE, the heads' disagreement, "
        "parameters and FLOPs per prediction as JSON. --method picks a baseline (dense, "
        "sparse, ensemble, treenet).",
    )
    add_arguments(p)
    p.set_defaults(func=cmd_neurotrails)


def cmd_neurotrails(args: argparse.Namespace) -> int:
    from ..neurotrails.__main__ import execute, options

    given = {k: v for k, v in vars(args).items() if k not in ("command", "func")}
    execute(options(given))
    return 0
