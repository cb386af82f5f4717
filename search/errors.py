"""Errors by kind: bad input, refused before anything is written, apart from failures during a run.

Every error of this tool is a :class:`SearchError`, which the command line prints
as one ``error:`` line. Its two kinds tell a caller what happened to the study:

- :class:`InputError` (also a ``ValueError``): the input is wrong (an unknown
  study, a bound out of range, a storage that is no study database...). It is
  raised before anything is written: the study database, the artifacts and the
  data are as they were. The command line exits with status 2.
- :class:`RunError`: a run started and then could not go on (trials failing in a
  row, worker processes that failed). Completed trials are kept; the command line
  exits with status 1.

Examples:
    >>> raise InputError("unknown study 'imdb-bowl'")
    Traceback (most recent call last):
    ...
    search.errors.InputError: unknown study 'imdb-bowl'
    >>> issubclass(InputError, ValueError), issubclass(RunError, SearchError)
    (True, True)
"""

from __future__ import annotations

__all__ = ["InputError", "MemoryLimitReached", "RunError", "SearchError"]


class SearchError(Exception):
    """A problem this tool reports as one line (the base of :class:`InputError` and :class:`RunError`)."""


class InputError(SearchError, ValueError):
    """Bad input, found before anything was written: the storage, artifacts and data are untouched."""


class RunError(SearchError):
    """A run that started could not go on; what it had finished is stored."""


class MemoryLimitReached(Exception):
    """A worker's resident memory grew past its limit between two trials: restart the process.

    TensorFlow keeps some memory of every compiled Keras model after
    ``keras.backend.clear_session()`` (see docs/benchmarks.md); only a new
    process gives it back. Raised after a trial has finished and been stored, so
    nothing is lost by stopping there. A worker process exits with
    :attr:`exit_status`, and ``run`` starts it again.
    """

    exit_status = 75  # EX_TEMPFAIL
