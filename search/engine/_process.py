"""A worker process started by :func:`search.engine._run.spawn_worker`: :func:`join_study` in a fresh interpreter.

Its argument is one JSON object of :func:`join_study` keywords plus ``name``. The
exit status tells the parent what happened: 0 (the budget is reached or the time
is up), :data:`RESTART_EXIT_STATUS` (stopped at its memory limit: start another),
130 (interrupted), 2 (bad input, one ``error:`` line on stderr), 1 (the run failed).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys

import optuna

from search.engine._logs import verbose_here
from search.engine._run import join_study
from search.engine._signals import stop_on_signals, stop_with_parent
from search.engine._storage import close_storages
from search.engine._supervise import RESTART_EXIT_STATUS
from search.errors import InputError, MemoryLimitReached, SearchError

__all__ = ["main"]


SPEC_ENV = "SEARCH_WORKER_SPEC"
"""The environment variable that carries a worker's JSON description (not its arguments: ``ps`` shows those)."""


def main(argv: list[str]) -> int:
    """Run the worker that ``SEARCH_WORKER_SPEC`` (or ``argv[0]``), a JSON object, describes; return its exit status."""
    spec = json.loads(argv[0] if argv else os.environ.pop(SPEC_ENV, "{}"))
    if spec.pop("quiet", False) and not verbose_here():  # Optuna's per-trial lines would drown the parent's bar
        optuna.logging.set_verbosity(logging.WARNING)
    parent = spec.pop("parent", None)
    try:
        with stop_on_signals():
            if isinstance(parent, int):
                stop_with_parent(parent)
            join_study(spec.pop("name"), verbose=verbose_here(), **spec)
    except MemoryLimitReached:
        return RESTART_EXIT_STATUS
    except KeyboardInterrupt as exc:
        return 128 + int(getattr(exc, "signum", signal.SIGINT))
    except SearchError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    finally:
        close_storages()  # SQLite folds its -wal file into the database and removes it and the -shm file
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
