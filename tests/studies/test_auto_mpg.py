"""The auto-mpg study: its definition, and a short real run that predicts fuel efficiency."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search import evaluate_holdout, load_predictor, load_study_config, run_study
from search.results import format_holdout

QUICK = {"max_epochs": 50, "patience": 15, "space": {"learning_rate": [0.02, 0.05], "batch_size": [16]}}


def test_auto_mpg_definition() -> None:
    config = load_study_config("auto-mpg")
    assert (config.metric, config.direction) == ("val_rmse", "minimize")
    assert config.data["kind"] == "auto-mpg"
    assert config.space["activation"] == ["relu", "elu", "tanh"]


def test_short_auto_mpg_run_predicts_mpg(auto_mpg_available: Path, storage: str) -> None:
    study = run_study("auto-mpg", n_trials=1, storage=storage, show_progress=False, overrides=QUICK)
    assert study.direction.name == "MINIMIZE" and study.best_value < 4.5
    result = evaluate_holdout("auto-mpg", storage=storage, show_progress=False)
    # Predicting the mean gives an RMSE of about 7.8 mpg and an R² of 0.
    assert result["task"] == "regression" and result["n_test"] == 80
    assert result["rmse"] < 4.5 and result["r2"] > 0.6 and 0 < result["mae"] < result["rmse"]
    report = format_holdout("auto-mpg", result)
    assert "rmse" in report and "r2" in report and "accuracy" not in report

    predictor = load_predictor("auto-mpg", storage=storage)
    small = {"cylinders": 4, "displacement": 97, "horsepower": "?", "weight": 2130, "acceleration": 14.5}
    big = {"cylinders": 8, "displacement": 350, "horsepower": 165, "weight": 4300, "acceleration": 11.5}
    mpg = predictor.predict([small | {"year": 80, "origin": 3}, big | {"year": 72, "origin": 1}])
    assert np.isfinite(mpg).all() and mpg[0] > mpg[1] + 5  # a light 1980 car beats a 1972 V8
