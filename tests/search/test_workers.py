"""Parallel workers on SQLite and PostgreSQL, with a dashboard polling, and bounded memory."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from search.engine import open_storage
from tests._helpers import REPO, cli, cli_here

State = optuna.trial.TrialState

TINY = """
name = "{name}"
metric = "val_accuracy"
direction = "maximize"
seed = 3
backend = "{backend}"

[data]
kind = "synthetic"
n_train = {n_train}
n_test = 100
validation_size = 0.25

[space]
module = "spaces.mlp"
depth = [1, 1]
units = [2, 8]
batch_size = [64]

[sampler]
name = "RandomSampler"

[pruner]
name = "NopPruner"

[budget]
trials = {trials}
max_epochs = {max_epochs}
patience = {patience}
"""


def tiny_study(
    tmp_path: Path,
    name: str,
    *,
    trials: int,
    max_epochs: int = 2,
    n_train: int = 200,
    patience: int = 2,
    backend: str = "",
) -> Path:
    path = tmp_path / f"{name}.toml"
    settings = {"max_epochs": max_epochs, "n_train": n_train, "patience": patience, "backend": backend}
    path.write_text(textwrap.dedent(TINY.format(name=name, trials=trials, **settings)))
    return path


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(State.COMPLETE, State.PRUNED))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_eight_workers_on_one_sqlite_file_with_a_dashboard_polling(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'parallel.db'}"
    path = tiny_study(tmp_path, "parallel", trials=80)
    # Create the study first so the dashboard has something to poll from the start.
    assert cli("run", str(path), "--trials", "1", "--storage", storage, "--no-progress").returncode == 0
    port = _free_port()
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", "--storage", storage, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    polls: list[int] = []
    stop = threading.Event()

    def get(path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return json.load(response)

    def poll() -> None:
        while not stop.is_set():
            try:
                study_id = get("/api/studies")["study_summaries"][0]["study_id"]
                get(f"/api/studies/{study_id}?after=0")  # what the study page fetches
                polls.append(study_id)
            except OSError:
                pass  # not started yet
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        result = cli("run", str(path), "--workers", "8", "--storage", storage, "--no-progress")
    finally:
        stop.set()
        poller.join(timeout=30)
        dashboard.terminate()
        dashboard.wait(timeout=30)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database is locked" not in result.stderr
    assert "Traceback" not in result.stderr
    assert len(polls) > 10, "the dashboard was not polled during the run"
    study = optuna.load_study(study_name="parallel", storage=storage)
    trials = study.get_trials()
    assert len(_finished(study)) == 80
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    # The only failures allowed are trials turned away because others had filled the budget.
    assert {t.user_attrs.get("stopped_by") for t in trials if t.state == State.FAIL} <= {"surplus"}
    workers = {t.user_attrs["worker"]["pid"] for t in _finished(study)}
    assert len(workers) >= 4  # the work really was shared


POP_QUEUED = """
import json, os, sys, time
from pathlib import Path
import optuna
from search.engine import open_storage
url, folder = sys.argv[1], Path(sys.argv[2])
study = optuna.load_study(study_name="queue", storage=open_storage(url))
(folder / f"ready-{os.getpid()}").touch()
while len(list(folder.glob("ready-*"))) < 2:  # both processes pop from the same moment on
    time.sleep(0.001)
print(json.dumps([study.ask().number for _ in range(20)]))
"""


def test_processes_popping_queued_trials_at_once_take_each_once(tmp_path: Path) -> None:
    # Optuna's SELECT ... FOR UPDATE does nothing on SQLite (optuna/optuna#4621); without the storage's
    # BEGIN IMMEDIATE sessions, 4 or 5 of these 40 queued trials were taken by both processes in each of 3 runs.
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    study = optuna.create_study(study_name="queue", storage=open_storage(url))
    for x in range(40):
        study.enqueue_trial({"x": x})
    command = [sys.executable, "-c", POP_QUEUED, url, str(tmp_path)]
    pops = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    taken = sorted(n for pop in pops for n in json.loads(pop.communicate(timeout=120)[0]))
    assert taken == list(range(40))  # none twice, and no new trial made for want of a queued one


def test_four_workers_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    path = tiny_study(tmp_path, "pg-parallel", trials=8)
    result = cli("run", str(path), "--workers", "4", "--storage", postgres_url, "--no-progress", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["n_finished"] == 8
    study = optuna.load_study(study_name="pg-parallel", storage=postgres_url)
    finished = _finished(study)
    assert len(finished) == 8
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert len({t.user_attrs["worker"]["pid"] for t in finished}) >= 2
    # Each finished trial ran its own configuration: no trial was run twice.
    assert len({t.datetime_start for t in finished}) == 8


def test_a_worker_joins_from_elsewhere_with_only_name_and_url(
    tmp_path: Path, postgres_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tiny_study(tmp_path, "pg-join", trials=3)
    first = cli_here(capfd, "run", str(path), "--trials", "1", "--storage", postgres_url, "--no-progress")
    assert first.returncode == 0, first.stderr[-3000:]
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()
    result = cli_here(capfd, "worker", "pg-join", "--storage", postgres_url, "--trials", "3", "--json", cwd=other_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["n_finished"] == 3


MEMORY_SCRIPT = """
import json, sys, threading, time, psutil
from search import run_study
path, storage = sys.argv[1], sys.argv[2]

def peak_of_workers(n_trials):
    samples, stop = {}, threading.Event()
    def watch():
        while not stop.is_set():
            for child in psutil.Process().children(recursive=True):
                try:
                    samples.setdefault(child.pid, []).append(child.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.1)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    run_study(path, storage=storage, n_trials=n_trials, show_progress=False, memory_limit_mb=150)
    stop.set()
    watcher.join()
    return max(max(v) for v in samples.values()), len(samples)

before, _ = peak_of_workers(20)
after, n_workers = peak_of_workers(120)
print(json.dumps({"before": before, "after": after, "workers": n_workers}))
"""


@pytest.mark.slow
def test_a_hundred_tiny_trials_keep_memory_bounded(tmp_path: Path) -> None:
    # TensorFlow keeps ~4 MB of every trained model whatever Keras clears (about 400 MB over
    # 100 trials in one process), so a worker restarts itself past its memory limit.
    path = tiny_study(tmp_path, "memory", trials=120, max_epochs=1, n_train=64, backend="tensorflow")
    storage = f"sqlite:///{tmp_path / 'm.db'}"
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path), storage],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    growth_mb = (rss["after"] - rss["before"]) / 2**20
    assert growth_mb < 200, f"worker memory peaked {growth_mb:.0f} MB higher over 100 more trials"
    assert rss["workers"] >= 2  # the limit was reached, and the worker was started again
    study = optuna.load_study(study_name="memory", storage=storage)
    assert len(_finished(study)) == 120
    assert not study.get_trials(states=(State.FAIL,))


def test_a_worker_prunes_and_samples_as_the_stored_definition_says(tmp_path: Path) -> None:
    from search import load_study, load_study_config

    storage = f"sqlite:///{tmp_path / 'joined.db'}"
    config = load_study_config("synthetic", pruner={"name": "MedianPruner", "n_startup_trials": 1, "n_warmup_steps": 7})
    created = optuna.create_study(study_name="synthetic", storage=storage, direction="maximize")
    created.set_user_attr("config", json.loads(json.dumps(config.__dict__)))
    for _ in range(3):
        done = created.ask()
        for step in range(10):
            done.report(1.0, step)
        created.tell(done, 1.0)

    study, _ = load_study("synthetic", storage=storage, for_trials=True)
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    trial = study.ask()
    trial.report(0.0, 3)
    # Below the median of the others at step 3: Optuna's default MedianPruner (no warm-up) prunes it;
    # the stored one waits for step 7.
    assert not trial.should_prune()
    trial.report(0.0, 7)
    assert trial.should_prune()
    study.tell(trial, state=State.PRUNED)

    def first_random_params(offset: int) -> dict[str, object]:
        joined, _ = load_study("synthetic", storage=storage, for_trials=True, seed_offset=offset)
        probe = optuna.create_study(sampler=joined.sampler)  # same sampler, a fresh history: random start-up
        return probe.ask({"x": optuna.distributions.FloatDistribution(0, 1)}).params

    assert first_random_params(0) == first_random_params(0)
    assert first_random_params(0) != first_random_params(1_000_003)


def test_workers_are_pinned_to_their_own_cores() -> None:
    import os

    from search.engine._supervise import worker_cores

    cores = sorted(os.sched_getaffinity(0))
    assert worker_cores(0, 1) == []
    if len(cores) < 2:
        pytest.skip("one core: nothing to share")
    first, second = worker_cores(0, 2), worker_cores(1, 2)
    assert first and second and not set(first) & set(second) and set(first + second) <= set(cores)
    assert worker_cores(0, len(cores) + 1) == []  # more workers than cores: no pinning


def test_a_bad_cpu_list_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = cli("worker", "synthetic", "--storage", f"sqlite:///{tmp_path / 'none.db'}", "--cpus", "zero")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--cpus" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_a_workers_error_reaches_the_caller_whole(
    make_study, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A loader registered only in this process: every worker fails, and says why above the progress bar."""
    from search import RunError, register_loader, run_study
    from tests.conftest import _synthetic

    register_loader("only-here", _synthetic)
    definition = tmp_path / "only-here.toml"
    definition.write_text(make_study(trials=2).read_text().replace('kind = "synthetic"', 'kind = "only-here"'))
    with pytest.raises(RunError, match="2 of 2 workers failed .*unknown data kind 'only-here'") as info:
        run_study(definition, storage=f"sqlite:///{tmp_path / 'x.db'}", workers=2, show_progress=True)
    assert "\n" not in str(info.value)
    relayed = capfd.readouterr().err
    assert relayed.count("error: unknown data kind 'only-here'") == 2
