"""Root pytest configuration: doctests of optional modules run only where their extra is."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("src/sprig/interop/torch.py")
    collect_ignore.append("src/sprig/torch")
    collect_ignore.append("src/sprig/backend/torch.py")
    collect_ignore.append("src/sprig/seft/torch.py")
    collect_ignore.append("tests/torchapi/_dist_worker.py")
    collect_ignore.append("src/sprig/neurotrails/torchtree.py")
