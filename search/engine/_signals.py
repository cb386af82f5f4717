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

__all__ = ["Stopped", "stop_on_signals", "stop_requested", "stop_with_parent"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []
_parent: list[int] = []  # the process whose death stops this one (a worker's run), once stop_with_parent is called
_orphaned: list[int] = []  # SIGTERM, once a worker is asked to stop by its parent's death (the kernel's or noticed)
_muted: list[bool] = []  # once this process's output goes to /dev/null
_PR_SET_PDEATHSIG = 1


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

    A worker whose parent (``run``) died counts as asked to stop by SIGTERM (see
    :func:`stop_with_parent`), so no worker outlives its run.

    Examples:
        >>> stop_requested() is None
        True
    """
    if _parent and os.getppid() != _parent[0]:
        if not _received and not _orphaned:
            _orphaned.append(signal.SIGTERM)
        _mute()
    return _received[0] if _received else _orphaned[0] if _orphaned else None


def _mute() -> None:
    """Send this process's stdout and stderr to ``/dev/null`` (once): its parent, which read them, is gone."""
    if _muted:
        return
    _muted.append(True)
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)


def stop_with_parent(parent: int) -> None:
    """Stop this process as on SIGTERM once process ``parent`` is gone (a worker whose ``run`` was killed).

    On Linux the kernel sends SIGTERM at the parent's death (``prctl(PR_SET_PDEATHSIG)``),
    which wakes this process; :func:`stop_requested` notices between epochs and
    trials that the parent is gone (everywhere else too) and the stop is as clean
    as on SIGTERM: the running trial is recorded as interrupted, with its
    checkpoint, and the next run re-queues it.

    Examples:
        >>> stop_with_parent(os.getppid())
        >>> stop_requested() is None
        True
    """
    _parent[:] = [parent]
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    stop_requested()  # it may have died before the request: then the first check stops this process


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
        if _parent and (signum == signal.SIGTERM or os.getppid() != _parent[0]):
            # A worker's SIGTERM is the kernel's PR_SET_PDEATHSIG: its run is dying. The kernel sends it again
            # as each thread of the dying run exits, while getppid() still names the run, so a repeat is no
            # "second signal". Stop at the next check between steps or trials, never in the middle of
            # storing a trial. (The run itself stops its workers with SIGINT.)
            if not _received and not _orphaned:
                _orphaned.append(signal.SIGTERM)
            if os.getppid() != _parent[0]:
                _mute()  # whatever the stop prints would go to a pipe nobody reads (and could end the process)
            return
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
        _parent.clear()
        _orphaned.clear()
        _muted.clear()


def _no_traceback_for_stops(record: logging.LogRecord) -> bool:
    """Optuna logs the trial a stop interrupted with its traceback; the stop is no error: keep the line only."""
    if record.exc_info and record.exc_info[0] is not None and issubclass(record.exc_info[0], KeyboardInterrupt):
        record.exc_info, record.exc_text = None, None
    return True
