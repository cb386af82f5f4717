"""The holdout model and its fitted preprocessing, saved, reloaded and predicting from raw rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import optuna
import pytest

import search.data._loaders
import search.results._holdout
from search import Predictor, SearchError, evaluate_holdout, load_predictor, load_study, run_study
from search.data import load_holdout_data
from search.engine._study import stored_config
from search.results import holdout_metrics
from spaces import mlp

LAYER = {"layer_units": [8], "input_dropout": 0.0, "dropout": 0.0, "l1": 0.0, "l2": 0.0, "activation": "relu"}
REGRESSION = {
    "metric": "val_rmse",
    "direction": "minimize",
    "max_epochs": 20,
    "space": {"learning_rate": [0.01, 0.03], "batch_size": [16]},
}


def test_predictor_from_disk_matches_the_one_in_memory(table_csv: Path, tmp_path: Path) -> None:
    data = load_holdout_data({"kind": "csv", "path": str(table_csv), "target": "label"}, seed=0)
    model = mlp.build(LAYER | {"batch_size": 32, "learning_rate": 0.01}, input_shape=data.input_shape, task=data.task)
    model.fit(data.x_train, data.y_train, epochs=3, verbose=0)
    in_memory = Predictor(model, data.preprocessor, data.task, data.class_names, data.schema)
    model_path, preprocessing_path = in_memory.save(tmp_path / "models", "table")
    assert model_path.parent == preprocessing_path.parent
    assert preprocessing_path.name == "table.preprocessing.joblib"

    loaded = Predictor.load(model_path, preprocessing_path)
    rows = search.data._loaders._load({"kind": "csv", "path": str(table_csv), "target": "label"}, 0).x_test
    assert np.array_equal(loaded.transform(rows), data.x_test)  # the same fitted preprocessing
    expected = model.predict(data.x_test, verbose=0)
    assert np.allclose(loaded.predict_scores(rows), expected, atol=1e-6)
    assert np.allclose(in_memory.predict_scores(rows), expected, atol=1e-6)
    labels = loaded.predict(rows)
    assert set(labels) <= {"no", "yes"}
    assert labels.tolist() == np.where(expected.reshape(-1) > 0.5, "yes", "no").tolist()
    assert (loaded.task, loaded.class_names, loaded.columns) == (data.task, ["no", "yes"], data.schema["columns"])


def test_holdout_saves_preprocessing_and_load_predictor_reproduces_it(
    table_csv: Path, storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = {"name": "table", "trials": 2, "data": {"path": str(table_csv), "target": "y", "task": "regression"}}
    run_study("csv", storage=storage, show_progress=False, overrides=overrides | REGRESSION)
    captured: dict[str, np.ndarray] = {}

    def spy(task, y_true, y_score, class_names):
        captured["scores"] = np.array(y_score)
        return holdout_metrics(task, y_true, y_score, class_names)

    monkeypatch.setattr(search.results._holdout, "holdout_metrics", spy)
    result = evaluate_holdout("table", storage=storage, show_progress=False)
    assert result["task"] == "regression" and result["metric"] == "val_rmse"
    assert {"rmse", "mae", "r2"} <= set(result) and "accuracy" not in result
    assert result["rmse"] < 3.0  # the target's spread is about 4.5: it learned something
    assert Path(result["preprocessing_path"]).parent == Path(result["model_path"]).parent
    study, _ = load_study("table", storage=storage)
    artifacts = [a.artifact_id for a in optuna.artifacts.get_all_artifact_meta(study)]
    assert result["artifact_id"] in artifacts and result["preprocessing_artifact_id"] in artifacts

    predictor = load_predictor("table", storage=storage)
    config = stored_config(study)
    rows = search.data._loaders._load(config.data, config.seed).x_test
    assert np.allclose(predictor.predict_scores(rows), captured["scores"], atol=1e-5)
    y_test = search.data._loaders._load(config.data, config.seed).y_test
    values = predictor.predict(rows)
    assert np.sqrt(np.mean((values - y_test) ** 2)) == pytest.approx(result["rmse"], rel=1e-4)

    # Dict rows, a CSV path, text cells, an unseen category: all go through the same preprocessing.
    records = rows.iloc[:3].to_dict("records")
    assert np.allclose(predictor.predict(records), values[:3], atol=1e-5)
    assert np.allclose(predictor.predict(records[0]), values[:1], atol=1e-5)
    assert len(predictor.predict(table_csv)) == 240
    odd = predictor.predict({"x1": "0.5", "x2": None, "color": "purple", "size": "?", "label": "yes"})
    assert odd.shape == (1,) and np.isfinite(odd).all()
    with pytest.raises(SearchError, match="missing column\\(s\\) x2"):
        predictor.predict({"x1": 1.0, "color": "red", "size": 2, "label": "no"})

    # The store keeps each file once: moved away, it is named in one line; moved back, it serves again.
    for key in ("model_path", "preprocessing_path"):
        Path(result[key]).rename(Path(result[key]).with_suffix(".moved"))
        with pytest.raises(SearchError, match=f"no such file: {Path(result[key])}") as info:
            load_predictor("table", storage=storage)
        assert "\n" not in str(info.value)
        Path(result[key]).with_suffix(".moved").rename(result[key])
    assert np.allclose(load_predictor("table", storage=storage).predict(records), values[:3], atol=1e-5)


def test_load_predictor_needs_a_holdout_and_serves_ready_arrays_without_preprocessing(make_study, storage: str) -> None:
    run_study(make_study(trials=1, max_epochs=2), storage=storage, show_progress=False)
    with pytest.raises(SearchError, match="no holdout model yet; run: python -m search holdout synthetic"):
        load_predictor("synthetic", storage=storage)
    result = evaluate_holdout("synthetic", storage=storage, show_progress=False)
    assert "preprocessing_path" not in result  # ready arrays: only the model is saved, as before
    predictor = load_predictor("synthetic", storage=storage)
    assert predictor.preprocessor is None and predictor.task.kind == "binary"
    rows = np.zeros((3, 20), dtype="float32")
    assert predictor.predict_scores(rows).shape == (3, 1) and set(predictor.predict(rows)) <= {"a", "b"}


def test_load_predictor_refuses_an_altered_preprocessing_file(storage: str) -> None:
    run_study("iris", n_trials=1, storage=storage, show_progress=False, overrides={"max_epochs": 2})
    result = evaluate_holdout("iris", storage=storage, show_progress=False)
    path = Path(result["preprocessing_path"])
    assert result["preprocessing_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_predictor("iris", storage=storage).class_names == ["setosa", "versicolor", "virginica"]
    original = path.read_bytes()
    path.write_bytes(original + b"\0")  # a pickle changed after the holdout wrote it: never unpickled
    with pytest.raises(SearchError, match="does not match the SHA-256 recorded with the holdout model; refused"):
        load_predictor("iris", storage=storage)
    path.write_bytes(original)  # the file the holdout wrote: served again
    assert load_predictor("iris", storage=storage).class_names == ["setosa", "versicolor", "virginica"]
