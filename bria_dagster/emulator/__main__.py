"""``python -m bria_dagster.emulator``: same as the ``bria-emulator`` command."""

import sys

from bria_dagster.emulator.cli import main

sys.exit(main())
