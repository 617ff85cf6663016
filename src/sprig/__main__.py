"""``python -m sprig ...`` (and ``torchrun -m sprig train ...``) runs the ``sprig`` command."""

from sprig.cli.main import main

raise SystemExit(main())
