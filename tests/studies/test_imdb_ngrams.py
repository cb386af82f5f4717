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
    assert summary["best_config"]["mode"] in ("multi-hot", "count", "tf-idf")
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
