"""The faults a cluster sends, each with nothing lost: a database restart, a full disk, a worker killed mid-write.

Real components only: a PostgreSQL server of the test's own, real worker processes
(``python -m search run``), a real tmpfs for the full disk, SIGKILL.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from search.engine._artifacts import FolderArtifacts, study_artifacts
from search.engine._checkpoint import TrialCheckpoints, checkpointed_trials
from search.engine._identity import worker_identity
from search.engine._spaces import study_space
from search.engine._storage import GRACE_PERIOD_S
from search.engine._study import load_study, stored_config
from tests._helpers import REPO, PostgresServer, cli, postgres_binary
from tests.search.test_workers import tiny_study

State = optuna.trial.TrialState
FINISHED = (State.COMPLETE, State.PRUNED)


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "search", *args, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def _trials(name: str, storage: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def _finished_values(trials: list[optuna.trial.FrozenTrial]) -> dict[int, float | None]:
    return {t.number: t.value for t in trials if t.state in FINISHED}


def _assert_consistent(trials: list[optuna.trial.FrozenTrial], budget: int) -> None:
    """Budget exact, trial numbers 0..n-1 once each, values exactly on the complete trials."""
    assert sum(t.state in FINISHED for t in trials) == budget
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    for trial in trials:
        assert (trial.value is not None) == (trial.state == State.COMPLETE), trial


# -- 1. the database server restarts mid-study ------------------------------------------------------------------


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for one test: restarting it disturbs no other test."""
    import shutil
    import tempfile

    if not postgres_binary("initdb") or not postgres_binary("pg_ctl"):
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg2")
    root = Path(tempfile.mkdtemp(prefix="search-pg-"))  # not under pytest's folder, which user postgres cannot enter
    server = PostgresServer(root)
    server.start()
    try:
        server.create_database()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_an_epoch(name: str, storage: str, proc: subprocess.Popen[str], timeout: float = 400) -> None:
    """Wait until a trial is running and has recorded an epoch (the restart then falls inside trials)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        with contextlib.suppress(KeyError):  # the study does not exist yet
            if any("history" in t.user_attrs for t in _trials(name, storage) if t.state == State.RUNNING):
                return
        time.sleep(0.3)
    raise AssertionError("no trial recorded an epoch in time")


@pytest.mark.slow
def test_a_postgresql_restart_mid_study_loses_nothing_and_the_run_ends_normally(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    budget = 3
    path = tiny_study(
        tmp_path, "pg-restart", trials=budget, max_epochs=5, n_train=2000, patience=5, backend="tensorflow"
    )
    proc = _start("run", str(path), "--workers", "2", "--storage", own_postgres.url)
    _wait_for_an_epoch("pg-restart", own_postgres.url, proc)
    before = _finished_values(_trials("pg-restart", own_postgres.url))
    own_postgres.stop("fast")  # every connection closed, open transactions rolled back
    time.sleep(2)  # down: new connections are refused
    own_postgres.start()
    _, stderr = proc.communicate(timeout=600)

    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "lost the connection to the study database" in stderr  # the restart did hit the workers
    trials = _trials("pg-restart", own_postgres.url)
    _assert_consistent(trials, budget)
    assert {n: v for n, v in _finished_values(trials).items() if n in before} == before
    # Nothing failed but trials turned away because others had filled the budget.
    assert {t.user_attrs.get("stopped_by") for t in trials if t.state == State.FAIL} <= {"surplus"}
    assert not [t.number for t in trials if t.state in (State.RUNNING, State.WAITING)]


# -- 2. the disk fills up while a checkpoint is written ---------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up, then give back ``leave`` bytes: less than a checkpoint."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def _part_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".part" in p.name]


def test_a_checkpoint_that_does_not_fit_leaves_the_previous_one_whole(tmp_path: Path) -> None:
    """ENOSPC half-way through a checkpoint: an error, no temporary file left, the last checkpoint loads."""
    import keras
    import numpy as np

    with _tmpfs(tmp_path / "small", "1m") as disk:
        store = TrialCheckpoints(FolderArtifacts(disk), "small", 0)
        folder = FolderArtifacts(disk).path(store.folder.rstrip("/"))
        model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(8), keras.layers.Dense(1)])
        model.compile(loss="mse", optimizer="adam")
        early = keras.callbacks.EarlyStopping(monitor="loss", restore_best_weights=True)
        x, y = np.ones((32, 20), dtype="float32"), np.ones(32, dtype="float32")
        history = model.fit(x, y, epochs=1, verbose=0, callbacks=[early]).history
        store.save(model, 0, history, early)
        size = (folder / "model-0.keras").stat().st_size
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        _fill(disk, leave=size // 2)  # the next model file starts, and cannot end
        history = model.fit(x, y, epochs=1, verbose=0, callbacks=[early]).history
        with pytest.raises(OSError) as failure:
            store.save(model, 1, {"loss": [1.0, *history["loss"]]}, early)
        assert failure.value.errno == errno.ENOSPC
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing half-written left
        checkpoint = store.load()
        assert checkpoint is not None and checkpoint.epoch == 0
        assert [w.tolist() for w in checkpoint.model.get_weights()] != []


@pytest.mark.slow
def test_a_full_disk_under_the_checkpoints_stops_no_trial(tmp_path: Path) -> None:
    """The artifacts' disk fills up mid-study: trials go on without checkpoints, nothing crashes or is lost."""
    budget = 3
    storage = f"sqlite:///{tmp_path / 'full.db'}"  # the database is elsewhere: only the artifacts' disk is full
    path = tiny_study(tmp_path, "full", trials=budget, max_epochs=6, n_train=3000, patience=6, backend="tensorflow")
    with _tmpfs(tmp_path / "artifacts", "1m") as disk:
        env = {"SEARCH_ARTIFACTS": str(disk)}
        proc = _start("run", str(path), "--storage", storage, env=env)
        deadline = time.monotonic() + 400
        while not list(disk.glob("checkpoints/*/trial-*/state.json")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        filler = _fill(disk, leave=16384)  # from here on no second checkpoint of a trial fits
        _, stderr = proc.communicate(timeout=600)

        assert proc.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        warnings = [line for line in stderr.splitlines() if "checkpoint not written" in line]
        assert warnings and all("No space left on device" in line for line in warnings), stderr[-3000:]
        trials = _trials("full", storage)
        _assert_consistent(trials, budget)
        assert all(t.state == State.COMPLETE for t in trials)  # no trial failed for want of disk
        failed = [t for t in trials if "checkpoint_error" in t.user_attrs]
        assert len(warnings) == len(failed) >= 1
        assert all("No space left on device" in t.user_attrs["checkpoint_error"] for t in failed)
        assert all(len(t.user_attrs["history"]["loss"]) == 6 for t in trials)  # every epoch trained
        assert _part_files(disk) == []  # no half-written file left behind
        assert not checkpointed_trials(FolderArtifacts(disk), "full")  # finished trials leave none

        filler.unlink()  # space freed: the same command has nothing left to do, and says so
        again = cli("run", str(path), "--storage", storage, "--no-progress", env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert _trials("full", storage) == trials


# -- 3. a worker killed while it writes to the storage ---------------------------------------------------------

HAMMER = """
import sys
from tests.search.test_faults import hammer
hammer(sys.argv[1], sys.argv[2])
"""


def hammer(name: str, storage: str) -> None:
    """Write to the study as fast as a trial can: ask, parameters, attributes, reports, tell; forever.

    Opened as a worker opens it (WAL, heartbeats). Each trial records its worker
    first, as the objective does, so that recovery can tell it died.
    """
    study, _ = load_study(name, storage=storage, for_trials=True)
    config = stored_config(study)
    space = study_space(config, study_artifacts(storage, study))  # parameters as the real objective samples them
    rng = random.Random(os.getpid())
    print("ready", flush=True)
    while True:
        trial = study.ask()
        trial.set_user_attr("worker", worker_identity())
        trial.set_user_attr("config", space.suggest(trial, config.space_bounds))
        history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
        for epoch in range(4):
            history["loss"].append(rng.random())
            history["val_accuracy"].append(rng.random() / 100)  # never the best: the summary shows a real trial
            trial.set_user_attr("history", history)
            trial.set_user_attr("epochs_trained", epoch + 1)
            trial.report(history["val_accuracy"][-1], epoch)
        study.tell(trial, max(history["val_accuracy"]))


def _hammer_and_kill(name: str, storage: str, kills: int) -> int:
    """Start :func:`hammer` processes and SIGKILL each at a random moment of its writes; return trials created."""
    rng = random.Random(0)
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", HAMMER, name, storage], stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    return len(_trials(name, storage))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_workers_killed_while_writing_leave_a_consistent_database(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    name = f"kill-writes-{backend}"
    storage = f"sqlite:///{tmp_path / 'kill.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    path = tiny_study(tmp_path, name, trials=1, max_epochs=2, backend="tensorflow")
    first = cli("run", str(path), "--storage", storage, "--no-progress")  # the study and one real trial
    assert first.returncode == 0, first.stderr[-3000:]

    _hammer_and_kill(name, storage, kills=12)
    if backend == "sqlite":
        db = Path(storage.removeprefix("sqlite:///"))
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    trials = _trials(name, storage)  # Optuna loads every trial
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    for trial in trials:  # each write whole or absent: a complete trial has its value, no other one has one
        assert (trial.value is not None) == (trial.state == State.COMPLETE), trial
        assert trial.state in (State.COMPLETE, State.RUNNING), trial
    killed = [t for t in trials if t.state == State.RUNNING]
    assert 1 <= len(killed) <= 12
    completed = _finished_values(trials)
    assert len(completed) >= 5, "the writers completed too few trials to have been killed mid-write"
    # A kill between creating a trial and recording its worker leaves a trial with no worker: recovery fails
    # it after the grace period (its process cannot be found), so the run below waits that long if need be.
    now = datetime.datetime.now()
    orphans = [t.datetime_start for t in killed if "worker" not in t.user_attrs and t.datetime_start is not None]
    if orphans:
        time.sleep(max(0.0, GRACE_PERIOD_S + 2 - min((now - s).total_seconds() for s in orphans)))

    budget = len(completed) + 2
    final = cli("run", str(path), "--trials", str(budget), "--storage", storage, "--no-progress")
    assert final.returncode == 0, final.stderr[-3000:]
    assert "Traceback" not in final.stderr
    trials = _trials(name, storage)
    _assert_consistent(trials, budget)
    assert {n: v for n, v in _finished_values(trials).items() if n in completed} == completed  # none lost
    assert not [t.number for t in trials if t.state == State.RUNNING]
    for dead in killed:  # failed by the next run's recovery and re-queued once, with its parameters
        assert trials[dead.number].state == State.FAIL
        (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == dead.number]
        assert retry.state in (*FINISHED, State.WAITING)
        assert retry.user_attrs["queued_params"] == dead.params


def test_the_reconnecting_storage_wraps_optunas_public_storage_interface_only() -> None:
    """A retried method is a public method of Optuna's storage interface that RDBStorage has; none is left out."""
    import inspect

    from search.engine._reconnect import RETRIED, ReconnectingStorage

    public = {n for n, m in inspect.getmembers(optuna.storages.BaseStorage) if not n.startswith("_") and callable(m)}
    assert all(not name.startswith("_") for name in RETRIED)
    assert all(callable(getattr(optuna.storages.RDBStorage, name, None)) for name in RETRIED)
    assert public - set(RETRIED) == {"remove_session", "check_trial_is_updatable"}  # they reach no database
    assert all(getattr(ReconnectingStorage, name) is not getattr(optuna.storages.RDBStorage, name) for name in RETRIED)
