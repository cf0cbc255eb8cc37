"""``python -m fsbridge`` = the ``fsbridge`` command."""
import sys

from fsbridge.cli import main

sys.exit(main())
