"""The holdout evaluation: computed once, stored on the study, model saved and reloadable."""

from __future__ import annotations

import keras
import numpy as np
import optuna
import pytest

import search.data._loaders
from search import SearchError, Task, evaluate_holdout, load_study, run_study
from search.data import load_holdout_data
from search.engine import stored_config
from search.results import holdout_metrics


def test_holdout_is_computed_once_and_stored(make_study, storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run_study(make_study(trials=2), storage=storage, show_progress=False)
    result = evaluate_holdout("synthetic", storage=storage, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    config = stored_config(study)
    assert study.user_attrs["holdout"]["accuracy"] == result["accuracy"]
    assert result["trial"] == study.best_trial.number
    assert result["epochs"] == study.best_trial.user_attrs["best_epoch"] + 1
    assert result["n_train"] == 400 and result["n_test"] == 200
    assert sum(map(sum, result["confusion_matrix"])) == 200

    # The saved model reproduces the stored metrics.
    data = load_holdout_data(config.data, seed=config.seed)
    model = keras.saving.load_model(result["model_path"])
    scores = model.predict(data.x_test, verbose=0)
    assert holdout_metrics(data.task, data.y_test, scores, data.class_names)["accuracy"] == result["accuracy"]
    artifacts = optuna.artifacts.get_all_artifact_meta(study)
    assert result["artifact_id"] in [a.artifact_id for a in artifacts]

    # A second request shows the stored result without touching the data or training.
    def no_data(*args, **kwargs):
        raise AssertionError("holdout data loaded again")

    monkeypatch.setattr(search.data._loaders, "_load", no_data)
    again = evaluate_holdout("synthetic", storage=storage, show_progress=False)
    assert again["cached"] is True
    assert again["computed_at"] == result["computed_at"] and again["accuracy"] == result["accuracy"]
    monkeypatch.undo()
    forced = evaluate_holdout("synthetic", storage=storage, force=True, show_progress=False)
    assert "cached" not in forced


def test_holdout_needs_a_study_with_a_completed_trial(storage: str) -> None:
    with pytest.raises(SearchError, match="no study database"):
        evaluate_holdout("synthetic", storage=storage)
    study = optuna.create_study(study_name="empty", storage=storage)
    assert study.trials == []
    with pytest.raises(SearchError, match="no completed trial"):
        evaluate_holdout("empty", storage=storage)
    with pytest.raises(SearchError, match="no study 'other'"):
        evaluate_holdout("other", storage=storage)


def test_binary_metrics_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1])
    scores = np.array([0.9, 0.2, 0.1, 0.7, 0.6])
    m = holdout_metrics(Task("binary"), y, scores, ["neg", "pos"])
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["per_class"]["neg"]["recall"] == pytest.approx(0.5)
