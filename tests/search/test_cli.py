"""The command line, run as a user runs it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._helpers import REPO, cli, cli_here


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def existing_db(tmp_path: Path) -> Path:
    import optuna

    path = tmp_path / "studies.db"
    study = optuna.create_study(study_name="kept", storage=f"sqlite:///{path}")
    study.add_trial(optuna.trial.create_trial(value=1.0, params={}, distributions={}))
    return path


def test_help_is_fast_and_lists_the_commands() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("run", "holdout", "list", "report", "dashboard"):
        assert command in result.stdout


def test_unknown_study(existing_db: Path) -> None:
    before = _digest(existing_db)
    line = _error_line(cli("run", "imdb-bowl", "--storage", f"sqlite:///{existing_db}"))
    assert "unknown study 'imdb-bowl'" in line
    assert _digest(existing_db) == before


def test_missing_data_folder(existing_db: Path, tmp_path: Path) -> None:
    before = _digest(existing_db)
    env = {"SEARCH_DATA_DIR": str(tmp_path / "no-data"), "SEARCH_CACHE_DIR": str(tmp_path / "cache")}
    line = _error_line(cli("run", "imdb-bow", "--storage", f"sqlite:///{existing_db}", env=env))
    assert "no-data does not exist" in line
    assert _digest(existing_db) == before


def test_missing_archive(existing_db: Path, tmp_path: Path) -> None:
    before = _digest(existing_db)
    env = {"SEARCH_DATA_DIR": str(tmp_path), "SEARCH_CACHE_DIR": str(tmp_path / "cache")}
    line = _error_line(cli("run", "imdb-bow", "--storage", f"sqlite:///{existing_db}", env=env))
    assert "no aclImdb/ or aclImdb_v1.tar.gz" in line
    assert _digest(existing_db) == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://host/x", "unsupported storage URL"),
        ("sqlite:////no/such/folder/x.db", "folder /no/such/folder does not exist"),
        ("::not a url::", "malformed storage URL"),
    ],
)
def test_unreadable_storage_url(url: str, message: str) -> None:
    assert message in _error_line(cli("run", "imdb-bow", "--storage", url))


def test_file_that_is_not_a_study_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello")
    for args in (("run", "imdb-bow"), ("list",), ("holdout", "imdb-bow")):
        assert "is not a study database" in _error_line(cli(*args, "--storage", f"sqlite:///{path}"))
    assert path.read_text() == "hello"


def test_list_json(existing_db: Path) -> None:
    result = cli("list", "--json", "--storage", f"sqlite:///{existing_db}")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [s["study"] for s in payload["studies"]] == ["kept"]
    assert payload["studies"][0]["n_complete"] == 1


def test_holdout_of_a_missing_study(existing_db: Path) -> None:
    assert "no study 'imdb-bow'" in _error_line(cli("holdout", "imdb-bow", "--storage", f"sqlite:///{existing_db}"))


def test_dashboard_serves_the_studies(existing_db: Path) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", "--storage", f"sqlite:///{existing_db}", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    payload = json.load(response)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "dashboard did not answer within 60 s"
                time.sleep(0.5)
        assert [s["study_name"] for s in payload["study_summaries"]] == ["kept"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dashboard_on_a_busy_port_is_one_error_line(existing_db: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("dashboard", "--storage", f"sqlite:///{existing_db}", "--port", str(port), timeout=60)
    assert _error_line(result) == f"error: cannot serve on 127.0.0.1:{port}: Address already in use"


def test_embeddings_export_and_show(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("3 2\ngood 1 0\nbad 0 1\nfilm 0.5 0.5\n")
    export = ["embeddings", "export", "--vectors", str(vectors), "--out", str(tmp_path / "m"), "--oov-buckets", "7"]
    result = cli_here(capfd, *export)
    assert result.returncode == 0, result.stderr
    shown = cli_here(capfd, "embeddings", "show", str(tmp_path / "m"), "--json")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["output_dim"] == 2 and info["vocabulary_size"] == 3 and info["num_oov_buckets"] == 7
    assert info["structure"] == "standard (trainable)"


def test_embedding_handles_that_do_not_load(tmp_path: Path, existing_db: Path) -> None:
    assert _error_line(cli("embeddings", "show", "/no/such/module")) == (
        "error: embedding handle '/no/such/module': no such folder"
    )
    (tmp_path / "notes.txt").write_text("hello")
    line = _error_line(cli("embeddings", "show", str(tmp_path)))
    assert f"embedding handle '{tmp_path}' is not a SavedModel" in line
    before = _digest(existing_db)
    args = ("run", "imdb-text", "--storage", f"sqlite:///{existing_db}", "--set", 'space.handle=["/no/such/module"]')
    assert "'/no/such/module': no such folder" in _error_line(cli(*args))
    assert _digest(existing_db) == before
    export = ("embeddings", "export", "--vectors", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "m"))
    assert "no word vectors in" in _error_line(cli(*export))
    (tmp_path / "notes.txt").write_text("good 1 0\n")
    assert f"output folder {tmp_path} exists and is not empty" in _error_line(cli(*export[:-1], str(tmp_path)))
    assert f"output folder {tmp_path} exists" in _error_line(cli("embeddings", "pretrain", "--out", str(tmp_path)))


@pytest.fixture
def bad_csvs(tmp_path: Path) -> dict[str, Path]:
    from tests.conftest import write_table

    table = write_table(tmp_path / "table.csv")
    constant = tmp_path / "constant.csv"
    constant.write_text("x,kind\n" + "".join(f"{i},same\n" for i in range(30)))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    return {"table": table, "constant": constant, "empty": empty, "missing": tmp_path / "nowhere.csv"}


BAD_CSV_CASES = {
    "missing-target-column": ("table", ["--target", "price", "--task", "regression"], "no column 'price' in "),
    "text-regression-target": (
        "table",
        ["--target", "color", "--task", "regression"],
        "target column 'color' of .* is not numeric",
    ),
    "one-class": ("constant", ["--target", "kind", "--task", "classification"], "has a single class \\('same'\\)"),
    "empty-file": ("empty", ["--target", "y", "--task", "regression"], "empty.csv is empty"),
    "missing-file": ("missing", ["--target", "y", "--task", "regression"], "no such file: .*nowhere.csv"),
}


@pytest.mark.parametrize(("name", "flags", "message"), BAD_CSV_CASES.values(), ids=BAD_CSV_CASES.keys())
def test_bad_csv_is_one_line_and_leaves_the_database_unchanged(
    bad_csvs: dict[str, Path], existing_db: Path, name: str, flags: list[str], message: str
) -> None:
    import re

    before = _digest(existing_db)
    line = _error_line(
        cli("run", "csv", "--path", str(bad_csvs[name]), *flags, "--storage", f"sqlite:///{existing_db}")
    )
    assert re.search(message, line), line
    assert _digest(existing_db) == before


def test_bad_csv_creates_no_database(bad_csvs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from search.cli._main import main

    db = tmp_path / "fresh" / "studies.db"
    db.parent.mkdir()
    for name, flags, _ in BAD_CSV_CASES.values():
        assert main(["run", "csv", "--path", str(bad_csvs[name]), *flags, "--storage", f"sqlite:///{db}"]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert not db.exists() and list(db.parent.iterdir()) == []


def test_csv_study_needs_a_file_and_a_target(existing_db: Path) -> None:
    before = _digest(existing_db)
    line = _error_line(cli("run", "csv", "--storage", f"sqlite:///{existing_db}"))
    assert "--path FILE --target COLUMN" in line
    assert _digest(existing_db) == before


def test_a_metric_the_task_does_not_log_is_refused(bad_csvs: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    flags = ["--target", "y", "--task", "regression", "--set", 'metric="val_accuracy"']
    line = _error_line(cli("run", "csv", "--path", str(bad_csvs["table"]), *flags, "--storage", f"sqlite:///{db}"))
    assert "metric 'val_accuracy' is not logged for a regression task" in line
    assert not db.exists()


def test_csv_run_then_holdout_and_list_with_no_extra_flags(
    bad_csvs: dict[str, Path], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'csv.db'}"
    quick = ["--trials", "2", "--set", "max_epochs=15", "--set", "space.learning_rate=[0.01, 0.03]"]
    flags = ["--path", str(bad_csvs["table"]), "--target", "label", "--task", "classification"]
    run = cli_here(capfd, "run", "csv", *flags, *quick, "--storage", storage, "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)
    assert summary["study"] == "csv-table" and summary["n_finished"] == 2
    assert summary["metric"] == "val_accuracy" and summary["direction"] == "maximize"

    holdout = cli_here(capfd, "holdout", "csv-table", "--storage", storage)
    assert holdout.returncode == 0, holdout.stderr[-2000:]
    text = holdout.stdout
    assert "Holdout evaluation of study 'csv-table' (binary;" in text
    assert "precision (positive class)" in text and "per class" in text and "confusion matrix" in text
    assert ".preprocessing.joblib" in text

    stored = json.loads(cli_here(capfd, "holdout", "csv-table", "--storage", storage, "--json").stdout)
    assert stored["cached"] is True and stored["n_test"] == 48
    assert stored["accuracy"] > 0.75  # the label is a simple rule of x1 and color
    assert sum(map(sum, stored["confusion_matrix"])) == 48
    assert Path(stored["preprocessing_path"]).is_file()

    listing = cli_here(capfd, "list", "--storage", storage)
    assert listing.returncode == 0
    assert f"holdout accuracy {stored['accuracy']:.4f}" in listing.stdout
