"""What optuna-dashboard shows: per-trial learning curves and notes, the holdout note, in a real browser."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import optuna
import optuna_dashboard
import pytest

from search import evaluate_holdout, load_study, load_study_config, run_study
from search.data import load_search_data, name_key
from search.engine._dashboard import learning_curve_id, trial_note
from search.engine._objective import Objective
from search.models import load_space
from tests._helpers import MLP_PARAMS

REPO = Path(__file__).resolve().parents[2]
FIXED = MLP_PARAMS | {"depth": 2, "units": 8, "batch_size": 32, "learning_rate": 0.01}


def _api(storage: optuna.storages.BaseStorage | str, path: str) -> dict:
    """GET a JSON endpoint of optuna-dashboard's WSGI app, without a server."""
    environ: dict = {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    status: list[str] = []
    body = b"".join(optuna_dashboard.wsgi(storage)(environ, lambda s, headers, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return json.loads(body)


def _study_detail(storage: optuna.storages.BaseStorage | str, name: str) -> dict:
    summaries = _api(storage, "/api/studies")["study_summaries"]
    study_id = next(s["study_id"] for s in summaries if s["study_name"] == name)
    return _api(storage, f"/api/studies/{study_id}") | {"study_id": study_id}


def _note(study: optuna.Study, number: int) -> str:
    trial = study.trials[number]
    return optuna_dashboard.get_note(optuna.trial.Trial(study, trial._trial_id))


def test_complete_and_pruned_trials_get_learning_curves_and_a_note(make_study, prune_odd_trials) -> None:
    config = load_study_config(make_study(max_epochs=4))
    objective = Objective(config, load_search_data(config.data, seed=config.seed), load_space(config.space_module))
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="curves", storage=storage, direction="maximize", pruner=prune_odd_trials)
    study.enqueue_trial(FIXED)
    study.enqueue_trial(FIXED)
    study.optimize(objective, n_trials=2)
    complete, pruned = study.trials
    assert complete.state == optuna.trial.TrialState.COMPLETE and pruned.state == optuna.trial.TrialState.PRUNED

    note = _note(study, 0)
    best = complete.user_attrs["best_epoch"]
    assert note.startswith("### Trial 0: complete")
    assert f"**val_accuracy** at the best epoch: **{complete.value:.4f}**" in note
    assert f"**best epoch**: {best + 1} of {complete.user_attrs['epochs_trained']} trained" in note
    assert f"**parameters**: {complete.user_attrs['n_params']:,}" in note
    assert "**wall time**:" in note and "**regularization**: input dropout 0.1, dropout 0.2, L1 0, L2 0.0001" in note
    # The layer table: two tapered hidden layers with their L2, the dropouts and the output.
    assert "| dense | Dense | 8 | relu | - | - | 0.0001 | 8 | 168 |" in note
    assert "| dense_1 | Dense | 4 | relu | - | - | 0.0001 | 4 | 36 |" in note
    assert "| dropout_1 | Dropout | - | - | 0.2 |" in note and "| output | Dense | 1 | sigmoid |" in note
    pruned_note = _note(study, 1)
    assert pruned_note.startswith("### Trial 1: pruned after epoch 1")
    assert "**stopped by**: pruned" in pruned_note

    # The figures, as the dashboard serves them: train and validation loss and accuracy, every epoch.
    detail = _study_detail(storage, "curves")
    figures = {g["id"]: json.loads(g["graph_object"]) for g in detail["plotly_graph_objects"]}
    assert set(figures) == {learning_curve_id(0), learning_curve_id(1)}
    for trial in (complete, pruned):
        figure = figures[learning_curve_id(trial.number)]
        history = trial.user_attrs["history"]
        traces = [(t["name"], t["xaxis"], t["y"]) for t in figure["data"]]
        assert traces == [
            ("train", "x", pytest.approx(history["loss"])),
            ("validation", "x", pytest.approx(history["val_loss"])),
            ("train", "x2", pytest.approx(history["accuracy"])),
            ("validation", "x2", pytest.approx(history["val_accuracy"])),
        ]
        assert f"Trial {trial.number} (" in figure["layout"]["title"]["text"]
        assert len(json.dumps(figure)) < 8000  # compact: no template in the stored JSON
    assert [t["note"]["body"] for t in detail["trials"]] == [note, pruned_note]


def test_a_failing_dashboard_write_never_fails_a_trial(
    make_study, prune_odd_trials, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_study_config(make_study(max_epochs=2))
    objective = Objective(config, load_search_data(config.data, seed=config.seed), load_space(config.space_module))

    def broken(*args, **kwargs):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(optuna_dashboard, "save_note", broken)
    monkeypatch.setattr(optuna_dashboard, "save_plotly_graph_object", broken)
    study = optuna.create_study(direction="maximize", pruner=prune_odd_trials)
    study.enqueue_trial(FIXED)
    study.enqueue_trial(FIXED)
    with caplog.at_level(logging.WARNING, logger="search"):
        study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert study.trials[0].value == max(study.trials[0].user_attrs["history"]["val_accuracy"])
    warnings = [r.getMessage() for r in caplog.records if "dashboard figure and note" in r.getMessage()]
    assert len(warnings) == 2 and all("database is locked" in w for w in warnings)


def test_failed_trial_note_names_the_error() -> None:
    attrs = {"stopped_by": "diverged", "history": {"loss": [float("nan")], "val_accuracy": [0.5]}, "wall_time_s": 1.0}
    note = trial_note(4, attrs, metric="val_accuracy")
    assert note.startswith("### Trial 4: failed")
    assert "**stopped by**: diverged" in note and "last 0.5000" in note
    error = trial_note(5, {"stopped_by": "ValueError", "error": "ValueError: bad `shape`"}, metric="val_accuracy")
    assert "**error**: `ValueError: bad 'shape'`" in error


def test_holdout_note_and_confusion_matrix_picture(make_study, storage: str) -> None:
    run_study(make_study(trials=1, max_epochs=3), storage=storage, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    optuna_dashboard.save_note(study, "My own notes: try wider layers.")
    result = evaluate_holdout("synthetic", storage=storage, show_progress=False)

    note = optuna_dashboard.get_note(study)
    assert note.startswith("My own notes: try wider layers.\n\n## Holdout evaluation")
    assert f"| accuracy | {result['accuracy']:.4f} |" in note
    assert f"| F1 | {result['f1']:.4f} |" in note
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    assert f"| **a** | {tn} | {fp} |" in note and f"| **b** | {fn} | {tp} |" in note
    assert "| class | precision | recall | F1 | support |" in note
    picture = result["confusion_matrix_artifact_id"]
    assert f"![Confusion matrix](/artifacts/{study._study_id}/{picture})" in note
    assert result["artifact_id"] in note and f"{name_key('synthetic')}.keras" in note
    metas = {a.artifact_id: a for a in optuna.artifacts.get_all_artifact_meta(study)}
    assert metas[picture].mimetype == "image/png" and metas[picture].filename == "confusion_matrix.png"
    assert Path(result["confusion_matrix_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert study.user_attrs["holdout"]["confusion_matrix_artifact_id"] == picture

    # Recomputing replaces the holdout section and keeps the user's text.
    again = evaluate_holdout("synthetic", storage=storage, force=True, show_progress=False)
    note = optuna_dashboard.get_note(study)
    assert note.count("## Holdout evaluation") == 1 and note.startswith("My own notes")
    assert again["confusion_matrix_artifact_id"] in note


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _dashboard(storage: str) -> Iterator[str]:
    """``python -m search dashboard`` on a free loopback port; yields its base URL."""
    port = _free_port()
    log = io.StringIO()
    proc = subprocess.Popen(
        [sys.executable, "-m", "search", "dashboard", "--storage", storage, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None:
                    log.write(proc.stderr.read() if proc.stderr else "")
                    pytest.fail(f"dashboard exited: {log.getvalue()}")
                assert time.monotonic() < deadline, "dashboard did not answer within 60 s"
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dashboard_in_a_browser_shows_trials_notes_curves_and_artifacts(
    finished_study: dict, browser, tmp_path: Path
) -> None:
    study, _ = load_study(finished_study["name"], storage=finished_study["storage"])
    with _dashboard(finished_study["storage"]) as base:
        with urllib.request.urlopen(f"{base}/api/studies", timeout=10) as response:
            (summary,) = json.load(response)["study_summaries"]
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        studies = f"{base}/dashboard/studies/{summary['study_id']}"

        # The trial list names every trial with its state; a trial's page shows its note.
        page.goto(f"{studies}/trials?numbers=0")
        for number in range(3):
            page.get_by_text(f"Trial {number}", exact=True).first.wait_for(timeout=30_000)
        assert page.get_by_text("Pruned", exact=True).count() >= 1
        page.get_by_text("Trial 0: complete").wait_for(timeout=30_000)
        first = study.trials[0].user_attrs
        assert page.get_by_text(f"{first['best_epoch'] + 1} of {first['epochs_trained']} trained").count() == 1
        assert page.locator("table", has_text="sigmoid").count() == 1  # the layer table
        page.screenshot(path=tmp_path / "trial.png", full_page=True)
        page.get_by_text("Trial 1", exact=True).first.click()
        page.get_by_text("Trial 1: pruned after epoch 1").wait_for(timeout=30_000)

        # The study page: learning-curve figures of every trial, the artifacts, the holdout note.
        page.goto(studies)
        page.get_by_text("Study Artifacts").wait_for(timeout=30_000)
        for number in range(3):
            figure = page.locator(f'[id="user-defined-plot:{learning_curve_id(number)}"]')  # the dashboard's div id
            figure.locator(".main-svg").first.wait_for(timeout=30_000)
        page.get_by_text("Trial 1 (pruned)").first.wait_for(timeout=30_000)
        assert page.get_by_text(f"Trial 0 (complete, val_accuracy {study.trials[0].value:.4f})").count() == 1
        page.get_by_text(f"{name_key('synthetic')}.keras", exact=True).wait_for(timeout=30_000)  # artifact cards
        page.get_by_text("confusion_matrix.png", exact=True).wait_for(timeout=30_000)
        page.screenshot(path=tmp_path / "study.png", full_page=True)

        page.goto(f"{studies}/note")
        page.get_by_role("heading", name="Holdout evaluation").wait_for(timeout=30_000)
        holdout = finished_study["holdout"]
        assert page.get_by_text(f"{holdout['accuracy']:.4f}", exact=True).count() >= 1
        picture = page.locator("img[alt='Confusion matrix']")
        picture.wait_for(timeout=30_000)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
        page.screenshot(path=tmp_path / "note.png", full_page=True)

        # The model downloads through the dashboard's artifact route.
        with urllib.request.urlopen(f"{base}/artifacts/{summary['study_id']}/{holdout['artifact_id']}") as response:
            assert response.read(2) == b"PK"  # a .keras file is a zip archive
        page.close()
    assert errors == []
    assert all((tmp_path / name).stat().st_size > 10_000 for name in ("trial.png", "study.png", "note.png"))
