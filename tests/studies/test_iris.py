"""The iris study: its definition, and a short real run that learns the species."""

from __future__ import annotations

import optuna

from search import evaluate_holdout, load_predictor, load_study_config, run_study
from spaces import mlp

QUICK = {"max_epochs": 30, "patience": 10, "space": {"learning_rate": [0.02, 0.05], "batch_size": [8, 16]}}


def test_iris_definition() -> None:
    config = load_study_config("iris")
    assert (config.metric, config.direction) == ("val_accuracy", "maximize")
    assert config.data == {"kind": "iris", "test_size": 0.2, "validation_size": 0.2}
    assert config.space_module == "spaces.mlp"
    assert config.space["activation"] == ["relu", "elu", "tanh"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(10):
        sample = mlp.suggest(study.ask(), **config.space_bounds)
        assert all(4 <= u <= 64 for u in sample["layer_units"]) and sample["activation"] in ("relu", "elu", "tanh")


def test_short_iris_run_learns_the_species(storage: str) -> None:
    study = run_study("iris", n_trials=1, storage=storage, show_progress=False, overrides=QUICK)
    assert len(study.trials) == 1
    assert study.best_value > 0.8  # chance is 1/3
    result = evaluate_holdout("iris", storage=storage, show_progress=False)
    assert result["task"] == "multiclass" and result["n_test"] == 30 and result["n_train"] == 120
    assert result["accuracy"] >= 0.8
    assert set(result["per_class"]) == {"setosa", "versicolor", "virginica"}
    assert [sum(row) for row in result["confusion_matrix"]] == [10, 10, 10]
    # 5-fold cross-validated: the final model is the average of the trial's 5 fold models, each early-stopped.
    assert result["epochs"] is None and len(result["fold_epochs"]) == 5
    assert all(1 <= epochs <= QUICK["max_epochs"] for epochs in result["fold_epochs"])
    import keras

    from search.models import load_model

    model = load_model(result["model_path"])
    assert model.name == "folds_of_5" and sum(isinstance(layer, keras.Model) for layer in model.layers) == 5

    predictor = load_predictor("iris", storage=storage)
    flower = {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "petal length (cm)": 1.4, "petal width (cm)": 0.2}
    assert predictor.predict(flower).tolist() == ["setosa"]
