"""Running trials until a study's budget is reached, alone or as one of many workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search._errors import SearchError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "RESTART_EXIT_STATUS",
    "MemoryLimitReached",
    "count_states",
    "join_study",
    "optimize_until_budget",
    "spawn_worker",
    "worker_cores",
]

# Stop when this many of this worker's trials fail in a row: the space or the data is broken.
MAX_FAILURES_IN_A_ROW = 5
_POLL_S = 1.0
_SEED_STRIDE = 1_000_003  # sampler seeds of workers started together lie this far apart
# A worker that stopped at its memory limit exits with this status (EX_TEMPFAIL) to be started again.
RESTART_EXIT_STATUS = 75


class MemoryLimitReached(Exception):
    """A worker's resident memory grew past its limit between two trials: restart the process.

    TensorFlow keeps about 4 MB of every compiled Keras model after
    ``keras.backend.clear_session()`` (measured with plain Keras 3.15 and
    TensorFlow 2.21, no code of this project involved); only a new process
    gives it back. Raised after a trial has finished and been stored, so
    nothing is lost by stopping there.
    """


def _rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def count_states(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state, e.g. ``{"COMPLETE": 3, "RUNNING": 1}``."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def optimize_until_budget(
    study: optuna.Study,
    objective: Callable[[optuna.trial.Trial], float],
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
        SearchError: ``MAX_FAILURES_IN_A_ROW`` of this worker's trials failed.
        MemoryLimitReached: The memory limit was passed between two trials.
    """
    import optuna

    from search._recovery import recover_trials

    failures = 0
    baseline_mb: float | None = None
    while deadline is None or time.monotonic() < deadline:
        counts = count_states(study)
        finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
        if finished >= budget:
            return
        if finished + counts.get("RUNNING", 0) >= budget and not counts.get("WAITING", 0):
            recover_trials(study)
            with contextlib.suppress(Exception):  # only RDB storages with heartbeats support it
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
        if trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs.get("stopped_by") != "surplus":
            failures += 1
            if failures >= MAX_FAILURES_IN_A_ROW:
                reason = trial.user_attrs.get("error") or trial.user_attrs.get("stopped_by") or "unknown"
                raise SearchError(f"{failures} trials in a row failed; the last one: {reason}")
        elif trial.state != optuna.trial.TrialState.FAIL:
            failures = 0


def _ran_here(trial: optuna.trial.FrozenTrial) -> bool:
    worker = trial.user_attrs.get("worker") or {}
    return worker.get("pid") == os.getpid()


def join_study(
    name: str,
    *,
    storage: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    show_progress: bool = False,
    memory_limit_mb: float | None = None,
    slot: int | None = None,
) -> optuna.Study:
    """Work on an existing study until its budget is reached: one more worker.

    The study's stored definition decides data, space and budget, so a worker on
    another machine needs only the study name and the storage URL.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.
        n_trials: A new total budget for the study (stored for every worker).
        timeout: Stop starting trials after this many seconds.
        show_progress: Show a progress bar on stderr.
        memory_limit_mb: Stop with :class:`MemoryLimitReached` once resident memory
            has grown by this much (``python -m search worker`` then exits with
            ``RESTART_EXIT_STATUS``, and ``run --workers`` starts it again).
        slot: This worker's number among those started together (``run --workers``
            numbers them from 0); it offsets the sampler's seed, so that workers
            starting at the same moment sample different parameters. ``None``: the
            process id does.

    Example:
        >>> join_study("imdb-bow", storage="postgresql://user@db-host/search")  # doctest: +SKIP
    """
    from search._datasets import load_search_data
    from search._objective import Objective
    from search._study import load_study, progress_bar, stored_config
    from search._training import configure_backend, use_backend
    from spaces import load_space

    configure_backend()
    # The stored definition's sampler and pruner: Optuna's defaults would prune from the first epoch.
    offset = (os.getpid() if slot is None else slot) * _SEED_STRIDE % 2**31
    study, url = load_study(name, storage=storage, for_trials=True, seed_offset=offset)
    config = stored_config(study)
    if not use_backend(config.backend):
        raise SearchError(
            f"study {name!r} trains on the {config.backend} backend, but Keras was loaded on another one "
            "in this process: join it with python -m search worker"
        )
    if n_trials is not None:
        if n_trials < 1:
            raise SearchError(f"--trials must be at least 1, got {n_trials}")
        config = config.replace(trials=n_trials)
        study.set_user_attr("config", dict(study.user_attrs["config"], trials=n_trials))
    space = load_space(config.space_module)
    data = load_search_data(config.data, seed=config.seed)
    deadline = None if timeout is None else time.monotonic() + timeout
    budget = config.trials
    with progress_bar(study, budget, show=show_progress, max_epochs=config.max_epochs) as bar:
        objective = Objective(config, data, space, storage_url=url, budget=budget, on_epoch=bar.epoch if bar else None)
        optimize_until_budget(
            study,
            objective,
            budget=config.trials,
            deadline=deadline,
            callbacks=[bar] if bar else [],
            memory_limit_mb=memory_limit_mb,
        )
    return study


def spawn_worker(
    name: str,
    *,
    storage: str,
    slot: int = 0,
    n_slots: int = 1,
    backend: str = "",
    timeout: float | None = None,
    memory_limit_mb: float | None = None,
) -> subprocess.Popen[bytes]:
    """Start one worker process (``python -m search worker``) on this machine.

    With several workers on a machine with at least as many cores, worker
    ``slot`` of ``n_slots`` is pinned to its own share of the cores: a small
    model gains little from a second core, so two one-core workers train about
    twice the trials of one two-core worker (README, benchmarks), and pinned
    workers do not preempt each other's threads.
    """
    command = [sys.executable, "-m", "search", "worker", name, "--storage", storage, "--no-progress"]
    command += ["--slot", str(slot)]
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    if memory_limit_mb is not None:
        command += ["--memory-limit", str(memory_limit_mb)]
    cores = worker_cores(slot, n_slots)
    if cores:
        command += ["--cpus", ",".join(map(str, cores))]
    env = dict(os.environ, KERAS_BACKEND=backend) if backend else None
    # Their summaries would mix with the caller's output; their errors still reach stderr.
    return subprocess.Popen(command, cwd=Path.cwd(), stdout=subprocess.DEVNULL, env=env)


def worker_cores(slot: int, n_slots: int) -> list[int]:
    """The cores of worker ``slot`` of ``n_slots``: an even share, or ``[]`` (no pinning).

    Example:
        >>> worker_cores(0, 1)
        []
    """
    if n_slots < 2 or not hasattr(os, "sched_getaffinity"):
        return []
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < n_slots:
        return []
    share = len(cores) // n_slots
    return cores[slot * share : (slot + 1) * share]


@contextlib.contextmanager
def supervise(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """On leaving (Ctrl-C included), interrupt the workers and wait for them."""
    try:
        yield
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in processes:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
