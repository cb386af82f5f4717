"""The command line, ``python -m search {run,worker,holdout,list,report,dashboard,embeddings}``.

A thin shell over the library: each command calls one public function.

Examples:
    >>> from search.cli import main
    >>> main(["run", "no-such-study"])
    2
"""

from search.cli._main import main

__all__ = ["main"]
