"""``python -m cts``: the command line (see :mod:`cts.cli`)."""

import sys

from cts.cli import main

if __name__ == "__main__":
    sys.exit(main())
