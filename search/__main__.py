"""``python -m search``: see :mod:`search._cli`."""

from search._cli import main

raise SystemExit(main())
