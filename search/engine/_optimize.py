"""The loop: run trials until a study's budget is reached, alone or as one of many workers, with a progress bar."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from search.engine._logs import quiet_optuna
from search.engine._ranking import count_finished, count_states
from search.engine._records import StoppedBy, TrialOutcome
from search.engine._recovery import recover_trials
from search.engine._signals import Stopped, stop_requested
from search.errors import MemoryLimitReached, RunError

if TYPE_CHECKING:
    import optuna

__all__ = ["optimize_until_budget", "progress_bar"]

# Stop when this many of this worker's trials fail in a row: the space or the data is broken.
MAX_FAILURES_IN_A_ROW = 5
_POLL_S = 1.0


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def optimize_until_budget(
    study: optuna.Study,
    objective: Callable[[optuna.trial.Trial], float | tuple[float, ...]],
    *,
    budget: int,
    deadline: float | None = None,
    callbacks: list[Any] | None = None,
    memory_limit_mb: float | None = None,
) -> None:
    """Run trials one at a time until ``budget`` trials are complete or pruned.

    Safe with many workers on one study: a worker starts a trial only while
    finished plus running trials are under the budget (the objective turns away
    the rare trial that another worker's start made surplus), and when the last
    trials are running elsewhere it waits, so that it can take over a trial
    whose worker died (marked failed and re-queued by :func:`recover_trials` or
    by the storage heartbeat).

    Args:
        study: The study.
        objective: The objective (normally :class:`search.Objective`).
        budget: Total finished trials of the study.
        deadline: ``time.monotonic()`` after which no trial starts.
        callbacks: Optuna callbacks for ``study.optimize``.
        memory_limit_mb: Stop, by raising :class:`MemoryLimitReached`, once the
            process's resident memory has grown by more than this since the end
            of its first trial (which loads the data and the framework).

    Raises:
        RunError: ``MAX_FAILURES_IN_A_ROW`` of this worker's trials failed.
        MemoryLimitReached: The memory limit was passed between two trials.
    """
    import optuna

    failures = 0
    baseline_mb: float | None = None
    while deadline is None or time.monotonic() < deadline:
        if (signum := stop_requested()) is not None:  # its KeyboardInterrupt was swallowed somewhere
            raise Stopped(signum)
        counts = count_states(study)
        finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
        if finished >= budget:
            return
        if finished + counts.get("RUNNING", 0) >= budget and not counts.get("WAITING", 0):
            recover_trials(study)
            with contextlib.suppress(Exception), warnings.catch_warnings():  # only storages with heartbeats have it
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            time.sleep(_POLL_S)
            continue
        before = {t.number for t in study.get_trials(deepcopy=False)}
        # An objective's trial_stored hook runs once Optuna has stored the trial's end.
        stored = getattr(objective, "trial_stored", None)
        hooks = [*(callbacks or []), *([stored] if callable(stored) else [])]
        study.optimize(objective, n_trials=1, callbacks=hooks, catch=(Exception,))
        mine = [t for t in study.get_trials(deepcopy=False) if t.number not in before and _ran_here(t)]
        if not mine:
            continue
        if memory_limit_mb is not None:
            if baseline_mb is None:
                baseline_mb = _rss_mb()
            elif (growth := _rss_mb() - baseline_mb) > memory_limit_mb:
                raise MemoryLimitReached(f"resident memory grew by {growth:.0f} MB")
        trial = mine[-1]
        outcome = TrialOutcome.of(trial)
        if trial.state == optuna.trial.TrialState.FAIL and outcome.stopped_by is not StoppedBy.SURPLUS:
            failures += 1
            if failures >= MAX_FAILURES_IN_A_ROW:
                reason = outcome.error or (outcome.stopped_by.value if outcome.stopped_by else "unknown")
                raise RunError(f"{failures} trials in a row failed; the last one: {reason}")
        elif trial.state != optuna.trial.TrialState.FAIL:
            failures = 0


def _ran_here(trial: optuna.trial.FrozenTrial) -> bool:
    worker = TrialOutcome.of(trial).worker or {}
    return worker.get("pid") == os.getpid()


@contextlib.contextmanager
def progress_bar(
    study: optuna.Study, budget: int, *, show: bool, max_epochs: int | None = None
) -> Iterator[_Progress | None]:
    """A progress bar on stderr while the block runs (``None`` when ``show`` is false).

    The bar is an Optuna callback, and its ``epoch`` method an ``Objective``
    ``on_epoch`` hook; Optuna's per-trial log lines are hidden while it shows.
    """
    if not show:
        yield None
        return
    progress = _Progress(study, budget, max_epochs=max_epochs)
    try:
        with quiet_optuna():
            yield progress
    finally:
        progress.close()


class _Progress:
    """A tqdm bar over the study's whole budget: finished trials, elapsed time, ETA, best value.

    The ETA is the mean time per finished trial of this run (``smoothing=0``: trial
    lengths vary too much for a moving average) times the trials left. The bar
    also shows the running trial's epoch, refreshed after every epoch, so a long
    trial does not look like a hang.
    """

    _FORMAT = (
        "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} trials [{elapsed} elapsed, ETA {remaining}{postfix}]"
    )

    def __init__(self, study: optuna.Study, budget: int, *, max_epochs: int | None = None) -> None:
        from tqdm.auto import tqdm

        self._budget = budget
        self._max_epochs = max_epochs
        self._best = ""
        self._bar = tqdm(
            total=budget,
            initial=min(budget, count_finished(study)),
            desc=study.study_name,
            unit="trial",
            file=sys.stderr,
            smoothing=0,
            bar_format=self._FORMAT,
        )
        self._show_best(study)

    def _show_best(self, study: optuna.Study, running: str = "") -> None:
        if len(study.directions) > 1:
            front = len(study.best_trials)
            self._best = f"front={front} trial{'s' if front != 1 else ''}" if front else ""
        else:
            with contextlib.suppress(ValueError):  # no complete (or feasible) trial yet
                self._best = f"best={study.best_value:.4f} (trial {study.best_trial.number})"
        self._bar.set_postfix_str(", ".join(p for p in (self._best, running) if p))

    def epoch(self, number: int, epoch: int, history: dict[str, list[float]]) -> None:
        """Show the running trial's progress (an ``Objective`` ``on_epoch`` hook)."""
        of = f"/{self._max_epochs}" if self._max_epochs else ""
        running = f"trial {number} epoch {epoch + 1}{of}"
        self._bar.set_postfix_str(", ".join(p for p in (self._best, running) if p))

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial | None) -> None:
        # Counted in the storage, so trials of other workers move the bar too.
        self._bar.n = min(self._budget, count_finished(study))
        self._show_best(study)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
