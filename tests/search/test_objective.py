"""The objective on tiny synthetic data: one epoch drives stopping, pruning and the value."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import optuna
import pytest

from search import load_study_config
from search.data import load_search_data
from search.engine._objective import Objective
from search.models import load_space

FIXED = {
    "depth": 1,
    "units": 8,
    "input_dropout": 0.0,
    "dropout": 0.0,
    "l1_on": False,
    "l2_on": False,
    "batch_size": 32,
    "learning_rate": 0.01,
}


def _objective(path: Path) -> Objective:
    config = load_study_config(path)
    return Objective(config, load_search_data(config.data, seed=config.seed), load_space(config.space_module))


def test_value_best_epoch_and_restored_weights_agree(make_study) -> None:
    objective = _objective(make_study(max_epochs=8))
    captured = {}
    original = objective.space.build

    def build(*args, **kwargs):
        captured["model"] = original(*args, **kwargs)
        return captured["model"]

    spy = type("Spy", (), {"suggest": staticmethod(objective.space.space.suggest), "build": staticmethod(build)})
    objective.space = load_space(spy)
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(FIXED)
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    history = trial.user_attrs["history"]
    best = trial.user_attrs["best_epoch"]
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.value == history["val_accuracy"][best] == max(history["val_accuracy"])
    assert history["val_accuracy"].index(trial.value) == best  # the first best epoch
    assert trial.user_attrs["epochs_trained"] == len(history["loss"])
    assert trial.user_attrs["n_params"] == 20 * 8 + 8 + 8 + 1
    assert trial.user_attrs["wall_time_s"] > 0
    assert trial.user_attrs["config"]["layer_units"] == [8]
    # Early stopping restored the best epoch's weights: evaluating them gives the returned value.
    data = objective.data
    restored = captured["model"].evaluate(data.x_val, data.y_val, verbose=0, return_dict=True)
    assert restored["accuracy"] == pytest.approx(trial.value, abs=1e-6)
    assert list(trial.intermediate_values.values()) == pytest.approx(history["val_accuracy"])


def test_early_stopping_stops_before_max_epochs(make_study) -> None:
    objective = _objective(make_study(max_epochs=60))
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(FIXED | {"learning_rate": 0.03})
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.user_attrs["stopped_by"] == "early_stopping"
    assert trial.user_attrs["epochs_trained"] == trial.user_attrs["best_epoch"] + 1 + 2  # patience 2


def test_pruned_trial_keeps_its_history(make_study) -> None:
    objective = _objective(make_study())
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=1.01))
    study.enqueue_trial(FIXED)
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["stopped_by"] == "pruned"
    assert len(trial.user_attrs["history"]["loss"]) == 1


def test_non_finite_loss_fails_the_trial(make_study) -> None:
    # NaN inputs through linear units (ReLU would turn NaN into 0) make every loss NaN.
    objective = _objective(make_study(data="poison = true", space='activation = ["linear"]'))
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(FIXED)
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL
    assert trial.user_attrs["stopped_by"] == "diverged"
    assert not all(math.isfinite(v) for v in trial.user_attrs["history"]["loss"])


def test_trials_see_no_test_split(make_study) -> None:
    objective = _objective(make_study())
    assert not hasattr(objective.data, "x_test")
    assert all(i.startswith("train/") for i in objective.data.train_ids + objective.data.val_ids)
    assert np.isclose(objective.data.y_val.mean(), 0.5)


def test_a_monitor_picks_the_epoch_and_the_metric_is_returned(make_study) -> None:
    config = load_study_config(make_study(max_epochs=8), monitor="val_loss")
    objective = Objective(config, load_search_data(config.data, seed=config.seed), load_space(config.space_module))
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial(FIXED | {"learning_rate": 0.003})
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    history = trial.user_attrs["history"]
    best = trial.user_attrs["best_epoch"]
    assert best == history["val_loss"].index(min(history["val_loss"]))
    assert trial.value == history["val_accuracy"][best]
