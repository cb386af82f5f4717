"""Trials whose worker died or was interrupted: mark failed, re-queue once."""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any

from search.engine._identity import is_dead
from search.engine._records import TrialOutcome
from search.engine._storage import grace_period

if TYPE_CHECKING:
    import optuna

__all__ = ["enqueue_params", "recover_trials", "requeue_failed_trial", "requeue_stale_trial"]

MAX_STALLED = 3


def enqueue_params(
    study: optuna.Study, params: dict[str, Any], *, skip_if_exists: bool, user_attrs: dict[str, Any]
) -> None:
    """``study.enqueue_trial`` that also keeps ``params`` in the user attribute ``queued_params``.

    ``FrozenTrial.params`` holds only what a trial sampled: a worker killed before
    its queued trial asked for a parameter would otherwise lose the set.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> enqueue_params(study, {"units": 64}, skip_if_exists=True, user_attrs={"enqueued": True})
        >>> study.trials[0].user_attrs
        {'enqueued': True, 'queued_params': {'units': 64}}
    """
    study.enqueue_trial(params, user_attrs={**user_attrs, "queued_params": params}, skip_if_exists=skip_if_exists)


def requeue_failed_trial(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, *, retried: set[int] | None = None
) -> bool:
    """Enqueue the parameters of a failed trial once more, unless already done.

    The parameters are those the trial sampled, over those it was queued with
    (``queued_params``): a worker killed before its trial asked for a parameter
    leaves no ``params``, and a queued set must not be lost with it.

    A retry carries its lineage on itself: ``retry_of`` (the failed trial's
    number), ``retry_history`` (every trial it retries, the newest first, as
    Optuna's ``RetryFailedTrialCallback`` keeps it), the ``folds`` a
    cross-validated trial completed (so the retry trains only the others) and
    ``stalled``, the number of retries in a row that died without completing a new
    epoch; after ``MAX_STALLED`` of those (a configuration that kills its worker
    every time, say) the parameters are not re-queued again. Returns whether it
    enqueued. ``retried``: the trials already retried, when the caller knows them
    (:func:`recover_trials` looks them up once for all the trials it re-queues).

    Also the storage's ``failed_trial_callback`` for trials with a stale heartbeat:
    Optuna's heartbeat finds the trials of silent workers on other machines
    (``fail_stale_trials``), and this policy re-queues them. It stands in for
    Optuna's ``RetryFailedTrialCallback`` because that one (1) re-creates only the
    parameters the trial had sampled, losing a queued set its worker died before
    asking for; (2) counts retries, not retries that made no progress, so a long
    trial moved twice between machines would be given up as readily as one that
    kills its worker at once; (3) copies the dead trial's reported values
    (``inherit_intermediate_values``), which can run ahead of its last checkpoint,
    whereas the retry here reports again exactly the epochs it resumes from.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> trial = study.ask({"units": optuna.distributions.IntDistribution(8, 64)})
        >>> failed = study.tell(trial, state=optuna.trial.TrialState.FAIL)
        >>> requeue_failed_trial(study, failed)
        True
        >>> requeue_failed_trial(study, failed)  # already re-queued
        False
        >>> study.trials[1].user_attrs["retry_of"], study.trials[1].state.name
        (0, 'WAITING')
    """
    outcome = TrialOutcome.of(trial)
    progressed = (outcome.epochs_trained or 0) > (
        -1 if outcome.resumed_from_epoch is None else outcome.resumed_from_epoch
    ) + 1
    stalled = 0 if progressed else outcome.stalled + 1
    if stalled >= MAX_STALLED:
        return False
    if trial.number in (_retried(study) if retried is None else retried):
        return False
    params = {**outcome.queued_params, **trial.params}
    lineage = {"retry_of": trial.number, "retry_history": [trial.number, *outcome.retried], "stalled": stalled}
    if outcome.folds:
        lineage["folds"] = outcome.folds
    enqueue_params(study, params, skip_if_exists=False, user_attrs=lineage)
    if retried is not None:
        retried.add(trial.number)
    return True


def _retried(study: optuna.Study) -> set[int]:
    """The numbers of the trials a retry was queued for."""

    return {n for t in study.get_trials(deepcopy=False) if (n := TrialOutcome.of(t).retry_of) is not None}


def requeue_stale_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """The storage's policy for a trial whose worker stopped sending heartbeats: :func:`requeue_failed_trial`."""
    requeue_failed_trial(study, trial)


def recover_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials of dead workers and re-queue them, and re-queue interrupted ones.

    A worker is dead when it ran on this host and its process is gone, or when
    it reached the database through a gRPC proxy and its trial's ``alive_at`` is
    older than the grace period; workers on other hosts with a direct database
    connection are Optuna's heartbeat's to judge (``fail_stale_trials``).

    Completed and pruned trials are never touched.

    Returns:
        Numbers of the trials that were re-queued.

    Examples:
        A trial whose worker has exited (here a made-up start time for this process):

        >>> import os, socket
        >>> import optuna
        >>> study = optuna.create_study()
        >>> trial = study.ask()
        >>> trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid(), "started": 0.0})
        >>> recover_trials(study)
        [0]
        >>> [t.state.name for t in study.trials]
        ['FAIL', 'WAITING']
    """
    import optuna

    state = optuna.trial.TrialState
    requeued = []
    now = datetime.datetime.now()
    grace = grace_period()
    retried = _retried(study)
    for trial in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        worker = trial.user_attrs.get("worker")
        # The objective records its worker within milliseconds of the start; a trial
        # without one after the grace period lost its process before the heartbeat began.
        started = trial.datetime_start or now
        orphan = worker is None and (now - started).total_seconds() > grace
        # Workers behind a gRPC proxy send no storage heartbeat; they record alive_at (see _objective._alive).
        alive_at = trial.user_attrs.get("alive_at")
        silent = isinstance(alive_at, int | float) and time.time() - alive_at > grace
        if orphan or silent or is_dead(worker):
            study.tell(trial.number, state=state.FAIL, skip_if_finished=True)
            if requeue_failed_trial(study, trial, retried=retried):
                requeued.append(trial.number)
    for trial in study.get_trials(deepcopy=False, states=(state.FAIL,)):
        stopped = TrialOutcome.of(trial).stopped_by
        if stopped is not None and stopped.interrupted and requeue_failed_trial(study, trial, retried=retried):
            requeued.append(trial.number)
    return requeued
