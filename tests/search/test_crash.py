"""Killed and interrupted workers: nothing completed is lost, interrupted trials resume from their last epoch."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from search.engine._artifacts import study_artifacts
from search.engine._checkpoint import TrialCheckpoints, checkpointed_trials
from tests._helpers import REPO
from tests.search.test_workers import tiny_study

State = optuna.trial.TrialState


def _start(path: Path, storage: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "search", "run", str(path), "--storage", storage, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
    )


def _checkpoints(storage: str, name: str, number: int) -> TrialCheckpoints:
    return TrialCheckpoints(study_artifacts(storage), name, number)


def _wait_for_epochs(storage: str, name: str, proc: subprocess.Popen[str], timeout: float = 300) -> bool:
    """Wait until a trial running in ``proc`` has checkpointed an epoch of its own.

    Returns:
        True once it has; False if ``proc`` finished the study's budget first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
            return False
        try:
            study = optuna.load_study(study_name=name, storage=storage)
            for trial in study.get_trials(states=(State.RUNNING,)):
                mine = trial.user_attrs.get("worker", {}).get("pid") == proc.pid
                if mine and _checkpoints(storage, name, trial.number).load() is not None:
                    return True
        except KeyError:  # the study does not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError("no epoch recorded in time")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_cleanly_and_the_trial_resumes_from_its_checkpoint(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    """Ctrl-C (SIGINT) and a scheduler's SIGTERM: the running trial is interrupted, kept and resumed."""
    storage = f"sqlite:///{tmp_path / 'int.db'}"
    # On TensorFlow: its epochs of 6,000 rows take long enough to be interrupted (a JAX trial ends first).
    path = tiny_study(tmp_path, "interrupt", trials=2, max_epochs=6, n_train=6000, patience=6, backend="tensorflow")
    proc = _start(path, storage)
    assert _wait_for_epochs(storage, "interrupt", proc)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "run the same command to resume" in stderr
    study = optuna.load_study(study_name="interrupt", storage=storage)
    (interrupted,) = study.get_trials(states=(State.FAIL,))
    assert interrupted.user_attrs["stopped_by"] == "KeyboardInterrupt"
    assert _checkpoints(storage, "interrupt", interrupted.number).load() is not None

    rerun = _start(path, storage)
    _, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr[-2000:]
    study = optuna.load_study(study_name="interrupt", storage=storage)
    assert len(study.get_trials(states=(State.COMPLETE, State.PRUNED))) == 2
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == interrupted.number]
    assert retry.params == interrupted.params
    assert retry.user_attrs["resumed_from_epoch"] >= 0
    done = retry.user_attrs["resumed_from_epoch"] + 1
    assert retry.user_attrs["history"]["loss"][:done] == interrupted.user_attrs["history"]["loss"][:done]
    assert interrupted.number not in checkpointed_trials(study_artifacts(storage), "interrupt")


@pytest.mark.slow
def test_ten_sigkills_lose_nothing_and_every_interrupted_trial_resumes(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'kill.db'}"
    # A short resumed trial can finish between two polls, so one worker may finish two trials before its
    # kill; the budget leaves room for that, and a worker that finishes the budget ends the kills early.
    budget = 14
    path = tiny_study(tmp_path, "kill", trials=budget, max_epochs=6, n_train=6000, patience=6, backend="tensorflow")
    rng = random.Random(0)
    completed: dict[int, float] = {}
    kills = 0
    for _ in range(10):
        proc = _start(path, storage)
        if not _wait_for_epochs(storage, "kill", proc):
            break
        time.sleep(rng.uniform(0.0, 2.0))  # a random point inside the trial
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        study = optuna.load_study(study_name="kill", storage=storage)
        for trial in study.get_trials(states=(State.COMPLETE,)):
            completed.setdefault(trial.number, trial.value)
    final = _start(path, storage)
    _, stderr = final.communicate(timeout=900)
    assert final.returncode == 0, stderr[-3000:]

    study = optuna.load_study(study_name="kill", storage=storage)
    trials = study.get_trials()
    assert len(study.get_trials(states=(State.COMPLETE, State.PRUNED))) == budget
    # No completed trial lost or changed.
    assert {n: trials[n].value for n in completed} == completed
    assert kills >= 5, f"only {kills} kills landed before the budget ran out"
    killed = [t for t in trials if t.state == State.FAIL]
    assert kills // 2 <= len(killed) <= kills  # a kill can fall between two trials
    for trial in killed:
        retries = [t for t in trials if t.user_attrs.get("retry_of") == trial.number]
        assert len(retries) == 1, f"trial {trial.number} was re-queued {len(retries)} times"
        # A kill before the trial sampled leaves no params; a queued set is kept.
        expected = {**trial.user_attrs.get("queued_params", {}), **trial.params}
        assert {k: retries[0].params[k] for k in expected} == expected
        recorded = trial.user_attrs.get("epochs_trained", 0)
        if recorded >= 2:  # the checkpoint is at most one epoch behind what the killed trial recorded
            assert retries[0].user_attrs.get("resumed_from_epoch", -1) >= recorded - 2
    assert not checkpointed_trials(study_artifacts(storage), "kill")


def test_workers_do_not_outlive_a_run_killed_with_sigkill(tmp_path: Path) -> None:
    """``run --workers 2`` killed at once: its workers stop by themselves and their trials are kept and re-queued."""
    import psutil

    storage = f"sqlite:///{tmp_path / 'orphans.db'}"
    # A SIGKILLed run's threads exit one by one, and the kernel sends each worker SIGTERM (PR_SET_PDEATHSIG) as
    # each goes: repeats that once made a worker exit at once, its trial left RUNNING (seen on JAX's short epochs).
    path = tiny_study(tmp_path, "orphans", trials=4, max_epochs=400, n_train=6000, patience=400)
    run = subprocess.Popen(
        [sys.executable, "-m", "search", "run", str(path), "--storage", storage, "--no-progress", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    deadline, workers = time.monotonic() + 300, set()
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            running = optuna.load_study(study_name="orphans", storage=storage).get_trials(states=(State.RUNNING,))
        except KeyError:  # not created yet
            continue
        workers = {t.user_attrs["worker"]["pid"] for t in running if "history" in t.user_attrs}  # an epoch in
    assert len(workers) == 2, "two workers did not start training in time"
    run.kill()  # SIGKILL: the run can clean nothing up
    run.wait()
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in workers], timeout=120)
    assert not alive, f"workers {[p.pid for p in alive]} outlived their run"
    study = optuna.load_study(study_name="orphans", storage=storage)
    stopped = study.get_trials(states=(State.FAIL,))
    assert len(stopped) == 2 and all(t.user_attrs["stopped_by"] == "KeyboardInterrupt" for t in stopped), [
        (t.number, t.state.name, t.user_attrs.get("stopped_by")) for t in study.trials
    ]
    assert not study.get_trials(states=(State.RUNNING,))  # no trial left running for the grace period to find
    from search.engine._recovery import recover_trials

    assert sorted(recover_trials(study)) == sorted(t.number for t in stopped)  # the next run re-queues both
