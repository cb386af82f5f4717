"""An Optuna RDB storage that waits out a lost database server (a restart, a fail-over, a network cut).

Every call that reaches the database is retried (tenacity), with a growing pause, while the
failure is a lost or refused connection, for up to :data:`RECONNECT_TIMEOUT_S`;
any other error, and SQLite (a file: no connection to lose), is raised at once.
The connection pool checks a connection before lending it (``pool_pre_ping``, set
by :func:`search.engine._storage.open_storage`), so connections that a server restart
closed are replaced instead of failing the first call after it.

A retried write is safe: Optuna's writes are single transactions that either
committed or did not, and all but two are idempotent (attributes, intermediate values,
parameters, heartbeats are set, not added). The two others are recognized when their
first attempt committed although its answer was lost: a trial already in the state
that ``set_trial_state_values`` sets (:func:`_already_set`), and a study that
``create_new_study`` already created. One case remains, in a window of microseconds:
``create_new_trial`` committed but unanswered makes a second trial; the first stays
RUNNING without a worker and is failed and re-queued by
:func:`search.engine._recovery.recover_trials` after the grace period, so the budget
stays exact.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import optuna
import tenacity
from sqlalchemy import exc as sqlalchemy_exc

__all__ = ["RECONNECT_TIMEOUT_S", "RETRIED", "ReconnectingStorage", "lost_connection"]

# How long a storage call waits for the database server to come back before it fails.
RECONNECT_TIMEOUT_S = 120.0
_FIRST_PAUSE_S = 0.5
_LONGEST_PAUSE_S = 5.0
_WARN_EVERY_S = 30.0

_T = TypeVar("_T")
_log = logging.getLogger("search")


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a lost or refused database connection.

    Examples:
        >>> from sqlalchemy.exc import OperationalError
        >>> lost_connection(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
        True
        >>> lost_connection(ValueError("bad value"))
        False
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy_exc.DBAPIError) and (
            current.connection_invalidated
            or isinstance(current, (sqlalchemy_exc.OperationalError, sqlalchemy_exc.InterfaceError))
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


class ReconnectingStorage(optuna.storages.RDBStorage):
    """``optuna.storages.RDBStorage`` whose calls wait for a database server that went away (see the module).

    Every method of Optuna's public storage interface (``optuna.storages.BaseStorage``,
    and ``record_heartbeat``) is retried, at the outermost call only: a public method
    that calls another retries once, not once per level. Opening it is not retried:
    a wrong URL or a server that is down at the start fails at once.
    """

    reconnect_timeout_s: float = RECONNECT_TIMEOUT_S
    _quiet_until = 0.0

    def _retry(self, name: str, method: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self.engine.dialect.name == "sqlite" or getattr(_calls, "inside", False):
            return method(self, *args, **kwargs)
        _calls.inside = True
        try:
            for attempt in tenacity.Retrying(
                retry=tenacity.retry_if_exception(lost_connection),
                wait=tenacity.wait_exponential(multiplier=_FIRST_PAUSE_S, max=_LONGEST_PAUSE_S),
                stop=tenacity.stop_after_delay(self.reconnect_timeout_s),
                before_sleep=functools.partial(_warn_once, self.reconnect_timeout_s),
                reraise=True,
            ):
                with attempt:
                    retried = attempt.retry_state.attempt_number > 1
                    try:
                        return method(self, *args, **kwargs)
                    except optuna.exceptions.UpdateFinishedTrialError:
                        if retried and name == "set_trial_state_values" and _already_set(self, *args, **kwargs):
                            return True  # type: ignore[return-value]  # its first attempt committed
                        raise
                    except optuna.exceptions.DuplicatedStudyError:
                        study_name = kwargs.get("study_name", args[1] if len(args) > 1 else None)
                        if retried and name == "create_new_study" and study_name is not None:
                            return self.get_study_id_from_name(study_name)  # type: ignore[return-value]
                        raise
        finally:
            _calls.inside = False
        raise AssertionError("unreachable: tenacity re-raises the last error")


_calls = threading.local()  # whether this thread is inside a retried call already


def _warn_once(timeout_s: float, state: tenacity.RetryCallState) -> None:
    """One warning line per outage (at most one every ``_WARN_EVERY_S``), not one per call that met it."""
    if state.attempt_number > 1 or time.monotonic() < ReconnectingStorage._quiet_until:
        return
    ReconnectingStorage._quiet_until = time.monotonic() + _WARN_EVERY_S
    exc = state.outcome.exception() if state.outcome is not None else None
    cause = getattr(exc, "__cause__", None)
    detail = str(getattr(cause, "orig", None) or cause or exc or "").strip()
    _log.warning(
        "lost the connection to the study database (%s); retrying for up to %.0f s",
        detail.splitlines()[0] if detail else type(exc).__name__,
        timeout_s,
    )


def _already_set(
    storage: optuna.storages.RDBStorage,
    trial_id: int,
    state: optuna.trial.TrialState,
    values: Any = None,
) -> bool:
    """Whether trial ``trial_id`` is already finished in ``state`` (with ``values``): a lost answer's commit."""
    trial = optuna.storages.RDBStorage.get_trial(storage, trial_id)
    return trial.state == state and (values is None or list(trial.values or []) == list(values))


def _retrying(name: str) -> Callable[..., Any]:
    method = getattr(optuna.storages.RDBStorage, name)

    @functools.wraps(method)
    def call(self: ReconnectingStorage, *args: Any, **kwargs: Any) -> Any:
        return self._retry(name, method, *args, **kwargs)

    return call


# Optuna's public storage interface: every method that reaches the database (remove_session and
# check_trial_is_updatable do not), and the heartbeat's writer.
RETRIED = tuple(
    sorted(
        {
            name
            for name, member in inspect.getmembers(optuna.storages.BaseStorage)
            if not name.startswith("_") and callable(member)
        }
        - {"remove_session", "check_trial_is_updatable"}
        | {"record_heartbeat"}
    )
)
for _name in RETRIED:
    setattr(ReconnectingStorage, _name, _retrying(_name))
