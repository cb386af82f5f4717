"""SIGINT and SIGTERM: stop between steps, record the running trial as interrupted, never be swallowed.

Batch schedulers and Kubernetes send SIGTERM before they kill; Ctrl-C sends SIGINT.
Both stop a run the same way: the running trial is recorded as interrupted (its
checkpoint kept, re-queued by the next run) and the command exits with
``128 + signal`` (130, 143). A second signal ends the process at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator

__all__ = ["Stopped", "stop_on_signals", "stop_requested"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal; a ``KeyboardInterrupt``, so it is handled like Ctrl-C.

    Attributes:
        signum: The signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def stop_requested() -> int | None:
    """The signal that asked this process to stop, or ``None``.

    The loop and the training check it between trials and between steps, so a
    stop whose ``KeyboardInterrupt`` was swallowed (raised inside a garbage
    collector's callback, say) still stops the run.

    Examples:
        >>> stop_requested() is None
        True
    """
    return _received[0] if _received else None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM raise :class:`Stopped`; a second one exits at once.

    Only the main thread can install signal handlers; elsewhere this does nothing.

    Examples:
        >>> with stop_on_signals():
        ...     signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: object) -> None:
        if _received:
            os._exit(128 + signum)  # the second signal: no more clean-up
        _received.append(signum)
        raise Stopped(signum)

    previous = {s: signal.signal(s, on_signal) for s in _SIGNALS}
    import optuna

    # Filters of a logger do not see its children's records; those of its handlers do.
    handlers = [*optuna.logging.get_logger("optuna").handlers, *logging.getLogger().handlers]
    for log_handler in handlers:
        log_handler.addFilter(_no_traceback_for_stops)
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        for log_handler in handlers:
            log_handler.removeFilter(_no_traceback_for_stops)
        _received.clear()


def _no_traceback_for_stops(record: logging.LogRecord) -> bool:
    """Optuna logs the trial a stop interrupted with its traceback; the stop is no error: keep the line only."""
    if record.exc_info and record.exc_info[0] is not None and issubclass(record.exc_info[0], KeyboardInterrupt):
        record.exc_info, record.exc_text = None, None
    return True
