"""k-fold cross-validation: folds that never leak, fold reports a pruner can use, resumable by fold."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest

import search.data._loaders
import search.models._epochs
from search import InputError, evaluate_holdout, load_study_config, tune
from search.data import load_holdout_data, load_search_data
from search.data._records import cv_folds
from search.engine._objective import Objective
from search.models import load_space


@pytest.fixture(autouse=True)
def _fresh_keras_names() -> Iterator[None]:
    """Refused runs below build a model (the dry run) and stop before a trial clears the session: clear it here,
    so that later tests in this process see Keras' own layer names (``dense``, not ``dense_7``)."""
    yield
    import keras

    keras.backend.clear_session()


def test_every_training_row_is_validated_in_exactly_one_fold_and_test_rows_in_none() -> None:
    settings = {"kind": "iris"}
    raw = search.data._loaders._load(settings, 42)
    data = load_search_data(settings, seed=42, cv=5)
    assert len(data.folds) == 5
    validated = [row for fold in data.folds for row in fold.val_ids]
    assert sorted(validated) == sorted(raw.train_ids)  # each training row once, no other row
    for fold in data.folds:
        assert not set(fold.train_ids) & set(fold.val_ids)
        assert sorted(fold.train_ids + fold.val_ids) == sorted(raw.train_ids)
        assert not set(raw.test_ids) & set(fold.train_ids + fold.val_ids)
        # Stratified: 8 flowers of each species in each validation fold of 24.
        assert np.bincount(fold.y_val.astype(int)).tolist() == [8, 8, 8]
    assert (data.x_train is data.folds[0].x_train) and data.val_ids == data.folds[0].val_ids


def test_the_holdout_sees_the_folds_of_the_search() -> None:
    """A cross-validated study's final model averages one model per fold: on the very rows of the search's folds."""
    settings = {"kind": "iris"}
    raw = search.data._loaders._load(settings, 42)
    searched = load_search_data(settings, seed=42, cv=5).folds
    holdout = load_holdout_data(settings, seed=42, cv=5)
    assert holdout.train_ids == raw.train_ids and len(holdout.folds) == 5
    for fold, (fit_rows, val_rows) in zip(searched, holdout.folds, strict=True):
        assert [holdout.train_ids[i] for i in fit_rows] == fold.train_ids
        assert [holdout.train_ids[i] for i in val_rows] == fold.val_ids
        assert np.array_equal(holdout.y_train[val_rows], fold.y_val)
    assert load_holdout_data(settings, seed=42).folds == ()
    assert load_holdout_data(settings, seed=7, cv=5).train_ids != holdout.train_ids  # the seed draws the test split


def test_each_fold_preprocessing_is_fitted_on_its_own_training_rows(auto_mpg_available: Path) -> None:
    settings = {"kind": "auto-mpg"}
    raw = search.data._loaders._load(settings, 42)
    data = load_search_data(settings, seed=42, cv=4)
    position = {row: i for i, row in enumerate(raw.train_ids)}
    means = []
    for fold in data.folds:
        train = [position[row] for row in fold.train_ids]
        scaler = fold.preprocessor.named_steps["columns"].named_transformers_["numeric"].named_steps["scale"]
        weight = raw.x_train["weight"].to_numpy(dtype=float)
        assert scaler.mean_[3] == pytest.approx(weight[train].mean())  # numeric columns: cyl, displ, hp, weight...
        assert np.allclose(fold.x_train[:, 3].mean(), 0.0, atol=1e-4)
        means.append(scaler.mean_[3])
    assert len(set(np.round(means, 6))) == 4  # four fits, not one
    # Regression: plain seeded k-fold, every car validated once.
    assert sorted(r for fold in data.folds for r in fold.val_ids) == sorted(raw.train_ids)
    assert not set(raw.test_ids) & {r for fold in data.folds for r in fold.train_ids}
    holdout = load_holdout_data(settings, seed=42)
    assert len(holdout.y_train) == len(raw.train_ids)
    # The regression's target level, like the preprocessing: the holdout's from all training cars.
    assert holdout.task.target_mean == pytest.approx(holdout.y_train.mean())


def test_each_fold_builds_its_regression_output_from_its_own_training_targets(auto_mpg_available: Path) -> None:
    import jax.monitoring

    import spaces.mlp

    built = []
    lowered = {"programs": 0}  # what JAX lowered to compile (or to find in the persistent cache), not in memory
    fold_starts = []

    class Recording:  # spaces.mlp, noting the task each model is built for
        DEFAULT_BOUNDS = spaces.mlp.DEFAULT_BOUNDS
        suggest = staticmethod(spaces.mlp.suggest)

        @staticmethod
        def build(config, *, input_shape, task):
            built.append(task)
            fold_starts.append(lowered["programs"])
            return spaces.mlp.build(config, input_shape=input_shape, task=task)

    def count(event: str, duration_secs: float, **kwargs: object) -> None:
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            lowered["programs"] += 1

    config = load_study_config("auto-mpg", cv=3, max_epochs=1, patience=1)
    data = load_search_data(config.data, seed=config.seed, cv=3)
    objective = Objective(config, data, load_space(Recording), dashboard=False)
    search.models._epochs._PROGRAMS.clear()  # no program of an earlier test's model of the same structure
    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        optuna.create_study(pruner=optuna.pruners.NopPruner()).optimize(objective, n_trials=1)
    finally:
        jax.monitoring.unregister_event_duration_listener(count)

    # The folds' scales and offsets are values of one compiled program: the later folds compile nothing.
    per_fold = np.diff([*fold_starts, lowered["programs"]]).tolist()
    assert per_fold[0] >= 2 and per_fold[1:] == [0, 0], per_fold  # the first: its epoch and its validation
    assert len(built) == 3
    for task, fold in zip(built, data.folds, strict=True):
        assert task.target_mean == pytest.approx(fold.y_train.mean())  # not the fold's validation cars'
        assert task.target_scale == pytest.approx(fold.y_train.std())
    assert len({round(task.target_mean, 6) for task in built}) == 3


def test_folds_are_seeded_and_small_classes_fall_back_to_plain_folds() -> None:
    labels = np.array([0] * 30 + [1] * 30)
    first, again = cv_folds(labels, k=3, seed=7), cv_folds(labels, k=3, seed=7)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, cv_folds(labels, k=3, seed=8), strict=True))
    rare = np.array([0] * 20 + [1] * 2)  # a class with fewer rows than folds cannot be stratified
    folds = cv_folds(rare, k=5, seed=0)
    assert sorted(np.concatenate([val for _, val in folds]).tolist()) == list(range(22))
    with pytest.raises(InputError, match="cv must be between 2 and the 22 training examples, got 30"):
        cv_folds(rare, k=30, seed=0)


def _learner(trial: optuna.trial.Trial):
    """A small softmax classifier of the four iris measurements."""
    import keras

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3, activation="softmax")]
    )
    learning_rate = trial.suggest_float("learning_rate", 0.02, 0.05, log=True)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def _build(trial: optuna.trial.Trial):
    """A learner, or a model whose frozen zero weights predict 1/3 for every species."""
    import keras

    good = trial.suggest_categorical("good", [True, False])
    layers = [keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3, activation="softmax")]
    if not good:
        layers = [keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros", trainable=False)]
    model = keras.Sequential([keras.Input((4,)), *layers])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _cv_objective(k: int = 5, **overrides):
    config = load_study_config("iris", cv=k, max_epochs=25, patience=25, **overrides).replace(space={"module": "x"})
    data = load_search_data(config.data, seed=config.seed, cv=k)
    return Objective(config, data, load_space(_build), dashboard=False)


def test_a_trial_reports_each_fold_returns_their_mean_and_a_clearly_worse_one_is_pruned_by_wilcoxon() -> None:
    objective = _cv_objective()
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.WilcoxonPruner(p_threshold=0.1))
    study.enqueue_trial({"good": True})
    study.enqueue_trial({"good": False})
    study.optimize(objective, n_trials=2)
    good, bad = study.trials

    assert good.state == optuna.trial.TrialState.COMPLETE
    folds = good.user_attrs["folds"]
    values = [f["values"]["val_accuracy"] for f in folds]
    assert len(folds) == 5 and good.intermediate_values == dict(enumerate(values))
    assert good.value == pytest.approx(sum(values) / 5) and good.value > 0.85
    assert good.user_attrs["best_epoch"] == round(sum(f["best_epoch"] for f in folds) / 5)
    assert all(0 <= f["best_epoch"] < f["epochs"] <= 25 for f in folds)

    # Worse than the best trial on every fold: Wilcoxon's p after 4 folds is 1/16 < 0.1, so the fifth never trains.
    assert bad.state == optuna.trial.TrialState.PRUNED and bad.user_attrs["stopped_by"] == "pruned"
    assert len(bad.intermediate_values) == 4 and len(bad.user_attrs["folds"]) == 4
    assert max(bad.intermediate_values.values()) < 0.5


def test_a_retry_trains_only_the_folds_its_interrupted_trial_left() -> None:
    objective = _cv_objective(k=3)
    study = optuna.create_study(direction="maximize")
    first = study.ask({"good": optuna.distributions.CategoricalDistribution([True, False])})
    done = [{"best_epoch": 4, "epochs": 9, "values": {"val_accuracy": 0.125}}]  # a value no training gives here
    first.set_user_attr("folds", done)
    study.tell(first, state=optuna.trial.TrialState.FAIL)
    study.enqueue_trial({"good": True}, user_attrs={"retry_of": first.number})
    study.optimize(objective, n_trials=1)
    retry = study.trials[1]

    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.user_attrs["resumed_from_fold"] == 1
    folds = retry.user_attrs["folds"]
    assert folds[0] == done[0] and retry.intermediate_values[0] == 0.125
    assert len(folds) == 3 and all(f["values"]["val_accuracy"] > 0.8 for f in folds[1:])
    assert retry.value == pytest.approx((0.125 + sum(f["values"]["val_accuracy"] for f in folds[1:])) / 3)


def test_tune_cross_validates_a_model_of_ones_own(tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    shuffled = np.random.default_rng(0).permutation(150)
    train, test = shuffled[:120], shuffled[120:]
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    study = tune(
        _learner,
        x[train],
        y[train],
        metric="val_accuracy",
        cv=3,
        n_trials=1,
        max_epochs=5,
        storage=storage,
        show_progress=False,
        test_data=(x[test], y[test]),
    )
    trial = study.trials[0]
    assert len(trial.user_attrs["folds"]) == 3 and len(trial.intermediate_values) == 3
    assert math.isclose(trial.value, sum(trial.intermediate_values.values()) / 3, rel_tol=1e-6)
    assert study.user_attrs["config"]["cv"] == 3
    # The final model of one's own build function: its 3 fold models averaged, each early-stopped on its fold.
    result = evaluate_holdout(study.study_name, storage=storage, show_progress=False, allow_modules=[__name__])
    assert len(result["fold_epochs"]) == 3 and all(1 <= e <= 5 for e in result["fold_epochs"])
    assert result["n_train"] == 120 and result["n_test"] == 30 and result["accuracy"] > 0.7

    for bad, message in [
        ({"cv": 0}, "cv must be an integer from 1"),
        ({"cv": 3, "validation_split": 0.3}, "give neither validation_data nor validation_split"),
        ({"cv": 200}, "cv must be an integer from 1"),
    ]:
        with pytest.raises(InputError, match=message):
            tune(_build, x, y, metric="val_accuracy", storage=storage, study_name="other", **bad)
    # More folds than rows: refused before the study is written.
    rows = np.random.default_rng(0).permutation(150)[:10]
    with pytest.raises(InputError, match="cv must be between 2 and the 10 training examples, got 12"):
        tune(_build, x[rows], y[rows], metric="val_accuracy", cv=12, storage=storage, study_name="tiny")
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == [study.study_name]
