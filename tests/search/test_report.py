"""Reports: the holdout text for each task and the list's holdout column."""

from __future__ import annotations

import optuna
import pytest

from search import list_studies
from search.cli._main import main
from search.results import format_holdout

MULTICLASS = {
    "task": "multiclass",
    "trial": 4,
    "epochs": 31,
    "n_train": 120,
    "n_test": 30,
    "metric": "val_accuracy",
    "validation_value": 1.0,
    "accuracy": 0.9667,
    "precision": 0.9697,
    "recall": 0.9667,
    "f1": 0.9666,
    "per_class": {
        "setosa": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 10.0},
        "versicolor": {"precision": 1.0, "recall": 0.9, "f1-score": 0.9474, "support": 10.0},
        "virginica": {"precision": 0.9091, "recall": 1.0, "f1-score": 0.9524, "support": 10.0},
    },
    "confusion_matrix": [[10, 0, 0], [0, 9, 1], [0, 0, 10]],
    "class_names": ["setosa", "versicolor", "virginica"],
}


def test_classification_report_shows_per_class_scores_and_the_matrix() -> None:
    text = format_holdout("iris", MULTICLASS)
    assert text.splitlines()[0] == "Holdout evaluation of study 'iris' (multiclass; best trial 4, 31 epochs)"
    assert "trained on 120 examples, tested once on 30" in text
    assert "precision (macro)" in text and "validation val_accuracy" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("versicolor") and "0.9474" in line)
    assert row.split()[1:] == ["1.0000", "0.9000", "0.9474", "10"]
    assert text.splitlines()[-1].split() == ["virginica", "0", "0", "10"]


def test_regression_report_shows_rmse_mae_r2_only() -> None:
    text = format_holdout("auto-mpg", {"task": "regression", "rmse": 2.5, "mae": 1.8, "r2": 0.9, "loss": 6.25})
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["rmse", "mae", "r2", "loss"]
    assert "accuracy" not in text and "confusion" not in text


@pytest.fixture
def finished_studies(storage: str) -> str:
    for name, direction, holdout in (
        ("mpg", "minimize", {"rmse": 2.5, "mae": 1.8, "r2": 0.9}),
        ("flowers", "maximize", {"accuracy": 0.9667}),
    ):
        study = optuna.create_study(study_name=name, storage=storage, direction=direction)
        study.add_trial(optuna.trial.create_trial(value=1.0, params={}, distributions={}))
        study.set_user_attr("config", {"metric": "val_rmse" if direction == "minimize" else "val_accuracy"})
        study.set_user_attr("holdout", holdout)
    return storage


def test_list_shows_rmse_for_regression_and_accuracy_for_classification(
    finished_studies: str, capsys: pytest.CaptureFixture
) -> None:
    summaries = {s["study"]: s for s in list_studies(finished_studies)}
    assert (summaries["mpg"]["holdout_metric"], summaries["mpg"]["holdout_value"]) == ("rmse", 2.5)
    assert summaries["mpg"]["holdout_accuracy"] is None
    assert (summaries["flowers"]["holdout_metric"], summaries["flowers"]["holdout_value"]) == ("accuracy", 0.9667)
    assert main(["list", "--storage", finished_studies]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert next(line for line in lines if "mpg" in line).endswith("best val_rmse 1.0000  holdout rmse 2.5000")
    assert next(line for line in lines if "flowers" in line).endswith("holdout accuracy 0.9667")
