"""``python -m search``: the command line."""

import sys

from search.cli import main

sys.exit(main())
