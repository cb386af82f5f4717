"""What Optuna says: quiet inside blocks that make throw-away studies."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["quiet_optuna"]


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
