"""What Optuna and the frameworks say: their INFO lines only when asked, and quiet throw-away studies."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

__all__ = ["VERBOSE_ENV", "framework_logs", "quiet_optuna", "verbose_here"]

VERBOSE_ENV = "SEARCH_VERBOSE"
"""Set (to ``1``) while a command or call runs verbosely: the worker processes it starts inherit the choice."""


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Hide Optuna's INFO logs (e.g. of throw-away in-memory studies) inside the block.

    Examples:
        >>> import optuna
        >>> with quiet_optuna():
        ...     optuna.logging.get_verbosity() == logging.WARNING
        True
    """
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(level, logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def verbose_here() -> bool:
    """Whether this process was asked for the frameworks' INFO lines (``--verbose``, ``verbose=True``).

    Examples:
        >>> with framework_logs(verbose=True):
        ...     verbose_here()
        True
    """
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def framework_logs(*, verbose: bool) -> Iterator[None]:
    """Optuna's INFO lines and TensorFlow's start-up lines inside the block only when ``verbose``.

    Warnings and errors show either way. Worker processes started inside the
    block inherit the choice (:data:`VERBOSE_ENV`).

    Examples:
        >>> import optuna
        >>> with framework_logs(verbose=False):
        ...     optuna.logging.get_verbosity() >= logging.WARNING
        True
    """
    saved = {name: os.environ.get(name) for name in (VERBOSE_ENV, "TF_CPP_MIN_LOG_LEVEL")}
    try:
        if verbose:
            os.environ[VERBOSE_ENV] = "1"
            if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):  # read once, when TensorFlow or XLA starts
                os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
            yield
        else:
            with quiet_optuna():
                yield
    finally:
        for name, value in saved.items():  # what later calls and their workers inherit is as before
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
