"""`python -m derive ...`: the command line (see `derive.cli`)."""

import sys

from .cli import main

sys.exit(main())
