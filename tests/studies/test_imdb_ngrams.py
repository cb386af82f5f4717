"""A real, short imdb-ngrams study: the representation searched on sparse inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._helpers import cli

QUICK = [
    "--set",
    "data.subset=3000",
    "--set",
    "data.validation_size=0.4",
    "--set",
    "max_epochs=3",
    "--set",
    "data.max_vocab=20000",
]


@pytest.mark.slow
def test_short_imdb_ngrams_run_and_holdout(imdb_available: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'ngrams.db'}"
    run = cli(
        "run",
        "imdb-ngrams",
        "--trials",
        "4",
        "--storage",
        storage,
        "--json",
        "--no-progress",
        *QUICK,
        "--set",
        "space.vocab_size=[5000, 20000]",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)
    assert summary["n_finished"] == 4
    assert 0.6 < summary["best_value"] <= 1.0
    assert 5000 <= summary["best_config"]["vocab_size"] <= 20000
    assert summary["best_config"]["mode"] in ("multi-hot", "count", "tf-idf", "nb-multi-hot", "nb-tf-idf")
    import optuna

    first = optuna.load_study(study_name="imdb-ngrams", storage=storage).trials[0]
    assert first.user_attrs["enqueued"] and first.params["vocab_size"] == 20000  # the definition's [[enqueue]]
    result = cli("holdout", "imdb-ngrams", "--storage", storage, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    holdout = json.loads(result.stdout)
    assert holdout["n_test"] == 3000 and 0.6 < holdout["accuracy"] <= 1.0

    import keras

    from search.models import InputDropout  # registers the layer for loading

    model = keras.saving.load_model(holdout["model_path"])
    assert model.inputs[0].sparse
    assert (
        InputDropout.__name__ in {type(layer).__name__ for layer in model.layers}
        or summary["best_config"]["input_dropout"] == 0.0
    )

    # The three best trials read different representations: one ensemble model, one input for each.
    import numpy as np

    from search.data import load_holdout_data
    from search.engine import load_study
    from search.engine._study import stored_config
    from spaces import bow

    result = cli("holdout", "imdb-ngrams", "--storage", storage, "--ensemble", "3", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    ensemble = json.loads(result.stdout)
    study, _ = load_study("imdb-ngrams", storage=storage)
    configs = {t.number: t.user_attrs["config"] for t in study.trials}
    inputs = ensemble["ensemble"]["inputs"]
    assert sorted(n for group in inputs for n in group) == sorted(ensemble["ensemble"]["trials"])
    representation = [{k: configs[group[0]][k] for k in ("vocab_size", "ngrams", "mode")} for group in inputs]
    assert all(configs[n][k] == r[k] for group, r in zip(inputs, representation, strict=True) for n in group for k in r)
    assert len({json.dumps(r, sort_keys=True) for r in representation}) == len(inputs)
    model = keras.saving.load_model(ensemble["model_path"])
    assert len(model.inputs) == len(inputs)
    config = stored_config(study)
    data = load_holdout_data(config.data, seed=config.seed)
    x_test = [
        bow.features(configs[group[0]], data.x_train, data.x_test, fit_labels=data.y_train)[1] for group in inputs
    ]
    scores = model.predict(x_test if len(x_test) > 1 else x_test[0], verbose=0)
    accuracy = float(np.mean((scores[:, 0] > 0.5) == data.y_test))
    assert accuracy == pytest.approx(ensemble["accuracy"], abs=1e-6)
