"""Many machines: simulated hosts (UTS namespaces), a shared artifact store, Optuna's gRPC proxy, S3.

A simulated machine is a process with its own host name (``unshare --uts``, as
root), its own ``SEARCH_HOME`` and data cache; machines share only the storage
URL and the artifact store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from search.engine._artifacts import FolderArtifacts
from search.engine._checkpoint import TrialCheckpoints, checkpointed_trials
from tests._helpers import REPO, cli
from tests.search.test_workers import TINY, tiny_study

State = optuna.trial.TrialState

# Sets the host name inside the new UTS namespace, then becomes `python -m search ARGS`.
_AS_HOST = (
    "import os, socket, sys; socket.sethostname(sys.argv[1]); "
    "os.execv(sys.executable, [sys.executable, '-m', 'search', *sys.argv[2:]])"
)


def _can_simulate_hosts() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True)
    return probe.returncode == 0


needs_hosts = pytest.mark.skipif(not _can_simulate_hosts(), reason="needs root and unshare --uts (UTS namespaces)")


def machine(host: str, root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m search ARGS`` on a simulated machine: its host name, its own home and data cache."""
    (root / "home").mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "SEARCH_HOME": str(root / "home"),
        "SEARCH_CACHE_DIR": str(root / "cache"),
        "SEARCH_HEARTBEAT_S": "1",  # a silent machine is taken for dead after 3 s
        **(env or {}),
    }
    environ.pop("SEARCH_ARTIFACTS", None)
    return subprocess.Popen(
        ["unshare", "--uts", sys.executable, "-c", _AS_HOST, host, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=environ,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_checkpoint(storage: str, name: str, shared: Path, host: str, proc: subprocess.Popen[str]) -> int:
    """The number of a trial running on ``host`` once it has a checkpoint in the shared store."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            time.sleep(0.2)
            continue
        for trial in study.get_trials(states=(State.RUNNING,)):
            on_host = trial.user_attrs.get("worker", {}).get("host") == host
            state = TrialCheckpoints(FolderArtifacts(shared), name, trial.number).folder + "state.json"
            if on_host and FolderArtifacts(shared).read(state) is not None:
                return trial.number
        time.sleep(0.2)
    raise AssertionError("no checkpoint in the shared store in time")


@needs_hosts
def test_a_trial_killed_on_one_machine_resumes_on_another_from_the_shared_store(
    tmp_path: Path, postgres_url: str
) -> None:
    name, budget = "moving", 3
    path = tiny_study(tmp_path, name, trials=budget, max_epochs=10, n_train=6000, patience=10)
    shared = tmp_path / "shared-artifacts"  # a folder both machines mount: the study keeps its location
    a = machine(
        "machine-a", tmp_path / "a", "run", str(path), "--storage", postgres_url, "--artifacts", str(shared),
        "--workers", "1", "--no-progress",
    )  # fmt: skip
    killed = _wait_for_checkpoint(postgres_url, name, shared, "machine-a", a)
    a.send_signal(signal.SIGKILL)
    a.communicate()

    # Machine B knows only the study's name and the storage URL.
    b = machine("machine-b", tmp_path / "b", "worker", name, "--storage", postgres_url, "--no-progress", "--json")
    out, err = b.communicate(timeout=900)
    assert b.returncode == 0, err[-3000:]
    assert json.loads(out)["n_finished"] == budget

    study = optuna.load_study(study_name=name, storage=postgres_url)
    trials = study.get_trials()
    assert len([t for t in trials if t.state in (State.COMPLETE, State.PRUNED)]) == budget  # exact budget
    assert len({t.number for t in trials}) == len(trials)
    lost = trials[killed]
    assert lost.state == State.FAIL and lost.user_attrs["worker"]["host"] == "machine-a"
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert retry.state == State.COMPLETE
    assert retry.user_attrs["worker"]["host"] == "machine-b"
    assert retry.params == lost.params
    resumed = retry.user_attrs["resumed_from_epoch"]
    assert resumed >= 0  # B trained from epoch resumed + 1 >= 1, not from scratch
    # The epochs B took over are A's: its checkpoint is saved before the epoch's history is written, so a kill
    # between the two (a JAX epoch of these rows takes milliseconds) leaves A's record one epoch behind.
    recorded = lost.user_attrs["history"]["loss"]
    assert resumed <= len(recorded) <= resumed + 1
    assert retry.user_attrs["history"]["loss"][: len(recorded)] == recorded
    assert sorted(retry.intermediate_values)[: resumed + 1] == list(range(resumed + 1))  # the epochs reported again
    assert not checkpointed_trials(FolderArtifacts(shared), name)  # finished trials leave no checkpoints
    assert not (tmp_path / "b" / "home" / "artifacts").exists()  # nothing went to B's own folder

    holdout = machine("machine-b", tmp_path / "b", "holdout", name, "--storage", postgres_url, "--json")
    out, err = holdout.communicate(timeout=600)
    assert holdout.returncode == 0, err[-3000:]
    result = json.loads(out)
    model = Path(result["model_path"])
    assert model.is_relative_to(shared) and model.is_file()

    port = _free_port()
    dashboard = machine("machine-a", tmp_path / "a", "dashboard", "--storage", postgres_url, "--port", str(port))
    try:
        study_id = study._study_id
        url = f"http://127.0.0.1:{port}/artifacts/{study_id}/{result['artifact_id']}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    served = response.read()
                break
            except OSError:
                assert dashboard.poll() is None and time.monotonic() < deadline, dashboard.communicate()[1][-2000:]
                time.sleep(0.5)
    finally:
        dashboard.terminate()
        dashboard.communicate(timeout=30)
    assert served == model.read_bytes()  # the dashboard on A serves the model that B saved


@pytest.mark.slow
def test_thirty_two_workers_through_the_grpc_proxy_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """200 short trials by 32 worker processes that reach PostgreSQL only through ``python -m search proxy``."""
    import psycopg2
    from sqlalchemy.engine import make_url

    name, budget, n_workers = "proxied", 200, 32
    path = tmp_path / f"{name}.toml"  # on JAX: 32 processes of TensorFlow would not fit in memory here
    study_text = TINY.format(name=name, trials=budget, max_epochs=1, n_train=64, patience=1, backend="jax")
    path.write_text(textwrap.dedent(study_text))
    port = _free_port()
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "search",
            "proxy",
            "--storage",
            postgres_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    grpc = f"grpc://127.0.0.1:{port}"
    try:
        created = cli("run", str(path), "--storage", grpc, "--trials", "1", "--workers", "1", "--no-progress")
        assert created.returncode == 0, created.stderr[-3000:]
        env = {**os.environ, "SEARCH_WORKERS": "1"}
        command = [sys.executable, "-m", "search", "worker", name, "--storage", grpc, "--trials", str(budget)]
        workers = [
            subprocess.Popen(
                [*command, "--no-progress"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=REPO,
                env=env,
            )
            for _ in range(n_workers)
        ]
        db = make_url(postgres_url)
        connections = []
        while any(w.poll() is None for w in workers):
            with psycopg2.connect(host=db.host, port=db.port, user=db.username, dbname="postgres") as conn:
                cursor = conn.cursor()
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db.database,))
                connections.append(cursor.fetchone()[0])
            conn.close()
            time.sleep(1.0)
        outputs = [w.communicate() for w in workers]
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy_err = proxy.communicate(timeout=60)[1]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert not [line for line in err.splitlines() if line.startswith("error:")], err[-3000:]
        assert "Traceback" not in err, err[-3000:]
    assert "Traceback" not in proxy_err, proxy_err[-3000:]

    study = optuna.load_study(study_name=name, storage=postgres_url)
    trials = study.get_trials()
    finished = [t for t in trials if t.state in (State.COMPLETE, State.PRUNED)]
    assert len(finished) == budget  # exact budget
    assert len({t.number for t in trials}) == len(trials)  # no duplicate trials
    assert len({t._trial_id for t in trials}) == len(trials)
    errors = [t for t in trials if t.state == State.FAIL and t.user_attrs.get("stopped_by") != "surplus"]
    assert errors == []  # 0 errors (a surplus trial is one turned away because the budget was full)
    assert not [t for t in trials if t.state == State.RUNNING]
    assert len({t.user_attrs["worker"]["pid"] for t in finished}) >= n_workers // 2  # the work was shared
    # Every worker reached the database through the proxy: far fewer connections than workers.
    assert max(connections) < n_workers, connections


# -- an S3 artifact store: a real S3-compatible server (moto's) on loopback ------------------------------------


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's S3-compatible server on loopback (``pip install 'moto[server]'``), with a bucket ``studies``."""
    pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    deadline = time.monotonic() + 60
    while True:
        try:
            boto3.client("s3").create_bucket(Bucket="studies")
            break
        except Exception:
            assert server.poll() is None and time.monotonic() < deadline, "the S3 server did not start"
            time.sleep(0.3)
    yield endpoint
    server.terminate()
    server.wait(timeout=30)


def _objects(prefix: str) -> list[str]:
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket="studies", Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_a_study_in_s3_resumes_a_killed_trial_and_serves_its_model(tmp_path: Path, s3_endpoint: str) -> None:
    from search import load_predictor
    from search.data import name_key
    from search.engine._artifacts import S3Artifacts

    name, budget = "in-s3", 2
    path = tiny_study(tmp_path, name, trials=budget, max_epochs=6, n_train=6000, patience=6)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    location = "s3://studies/team/runs"
    store = S3Artifacts("studies", "team/runs")
    command = [sys.executable, "-m", "search", "run", str(path), "--storage", storage, "--artifacts", location]
    first = subprocess.Popen([*command, "--no-progress"], stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 300
    killed = None
    while killed is None:
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1][-3000:]
        with_checkpoint = checkpointed_trials(store, name)
        if with_checkpoint:
            killed = min(with_checkpoint)
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.communicate()

    again = cli("run", str(path), "--storage", storage, "--no-progress")  # the study knows its store
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"artifacts in {location}" in again.stderr
    study = optuna.load_study(study_name=name, storage=storage)
    assert len([t for t in study.trials if t.state in (State.COMPLETE, State.PRUNED)]) == budget
    (retry,) = [t for t in study.trials if t.user_attrs.get("retry_of") == killed]
    assert retry.user_attrs["resumed_from_epoch"] >= 0  # resumed from the checkpoint in S3
    assert not _objects("team/runs/checkpoints/")  # finished trials leave none
    assert not (tmp_path / "studies.db.artifacts").exists()  # nothing went to the local default

    holdout = cli("holdout", name, "--storage", storage, "--json")
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    result = json.loads(holdout.stdout)
    key = name_key(name)
    assert result["model_path"] == f"s3://studies/team/runs/models/{key}.keras"
    assert f"team/runs/models/{key}.keras" in _objects("team/runs/models/")
    # kept once: the Optuna artifact (what optuna-dashboard serves) is the same object, reached by its id
    assert f"team/runs/aliases/{result['artifact_id']}" in _objects("team/runs/aliases/")
    served = store.open_reader(result["artifact_id"]).read()
    assert hashlib.sha256(served).hexdigest() == result["model_sha256"]
    predictor = load_predictor(name, storage=storage)  # downloaded from S3: no local copy exists
    assert predictor.model.count_params() > 0

    report = cli("report", name, "--storage", storage)
    assert report.returncode == 0, report.stderr[-3000:]
    assert f"team/runs/reports/{key}.html" in _objects("team/runs/reports/")


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("gs://bucket/x", "unsupported artifact store 'gs://bucket/x'"),
        ("s3://no-such-bucket/x", "cannot use the artifact store s3://no-such-bucket/x"),
    ],
)
def test_a_bad_artifact_store_is_refused_before_anything_is_written(
    tmp_path: Path, s3_endpoint: str, location: str, message: str
) -> None:
    path = tiny_study(tmp_path, "refused", trials=1)
    storage = tmp_path / "studies.db"
    result = cli("run", str(path), "--storage", f"sqlite:///{storage}", "--artifacts", location, "--no-progress")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, result.stderr
    assert not storage.exists()
