"""The holdout evaluation: computed once, stored on the study, model saved and reloadable."""

from __future__ import annotations

import keras
import numpy as np
import optuna
import pytest

import search.data._loaders
from search import SearchError, Task, evaluate_holdout, load_study, run_study
from search.data import load_holdout_data
from search.engine._study import stored_config
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


def test_repeated_holdout_uses_distinct_seeds_and_reports_their_spread(make_study, storage: str) -> None:
    run_study(make_study(trials=1, max_epochs=3), storage=storage, show_progress=False)
    single = evaluate_holdout("synthetic", storage=storage, show_progress=False)
    repeated = evaluate_holdout("synthetic", storage=storage, repeats=3, show_progress=False)
    assert "cached" not in repeated  # a stored single result does not answer for three seeds
    spread = repeated["repeats"]
    assert spread["n"] == 3 and len(set(spread["seeds"])) == 3
    assert spread["seeds"][0] == stored_config(load_study("synthetic", storage=storage)[0]).seed + repeated["trial"]
    losses = spread["values"]["loss"]
    assert len(set(losses)) == 3  # three different initialisations and batch orders, not one model thrice
    assert losses[0] == pytest.approx(single["loss"], rel=1e-5)  # the first seed is the trial's own
    assert repeated["loss"] == losses[0]  # the result (and the model kept) are the first seed's
    for key in ("accuracy", "f1", "loss"):
        assert spread["mean"][key] == pytest.approx(np.mean(spread["values"][key]))
        assert spread["std"][key] == pytest.approx(np.std(spread["values"][key], ddof=1))
    study, _ = load_study("synthetic", storage=storage)
    assert study.user_attrs["holdout"]["repeats"]["seeds"] == spread["seeds"]
    again = evaluate_holdout("synthetic", storage=storage, repeats=3, show_progress=False)
    assert again["cached"] is True
    with pytest.raises(SearchError, match="repeats must be a whole number from 1 to 100, got 0"):
        evaluate_holdout("synthetic", storage=storage, repeats=0)


def test_an_ensemble_of_the_best_trials_is_one_model_that_reloads_and_predicts_the_same(
    make_study, storage: str
) -> None:
    run_study(make_study(trials=4, max_epochs=3), storage=storage, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    ranked = sorted((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: (-t.value, t.number))
    result = evaluate_holdout("synthetic", storage=storage, ensemble=3, show_progress=False)
    ensemble = result["ensemble"]
    assert ensemble["k"] == 3 and ensemble["trials"] == [t.number for t in ranked[:3]]
    assert [m["epochs"] for m in ensemble["members"]] == [t.user_attrs["best_epoch"] + 1 for t in ranked[:3]]
    assert result["model_path"].endswith(".ensemble-3.keras")

    # One .keras model: its output is the average of its members' and the stored metrics are its own.
    config = stored_config(study)
    data = load_holdout_data(config.data, seed=config.seed)
    model = keras.saving.load_model(result["model_path"])
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert [m.name for m in members] == [f"trial_{n}" for n in ensemble["trials"]]
    scores = model.predict(data.x_test, verbose=0)
    average = np.mean([m.predict(data.x_test, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(scores, average, rtol=1e-5, atol=1e-6)
    assert holdout_metrics(data.task, data.y_test, scores, data.class_names)["accuracy"] == result["accuracy"]
    predictor = search.load_predictor("synthetic", storage=storage, ensemble=3)
    np.testing.assert_allclose(predictor.predict_scores(data.x_test), scores, rtol=1e-5, atol=1e-6)

    # Stored beside the single model's result, which an ensemble leaves alone.
    study, _ = load_study("synthetic", storage=storage)
    assert "holdout" not in study.user_attrs
    assert study.user_attrs["holdout:ensemble-3"]["accuracy"] == result["accuracy"]
    with pytest.raises(SearchError, match="distinct complete configurations: an ensemble of 5 needs as many"):
        evaluate_holdout("synthetic", storage=storage, ensemble=5)
