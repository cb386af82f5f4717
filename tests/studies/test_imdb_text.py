"""The imdb-text study on the shared IMDB data: its split, and a short real run through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from search import load_study_config
from search.data import load_holdout_data, load_search_data
from tests._helpers import cli_here

REPO = Path(__file__).resolve().parents[2]


def _cli(capfd: pytest.CaptureFixture[str], *args: str) -> dict:
    ran = cli_here(capfd, *args)
    assert ran.returncode == 0, ran.stderr[-2000:]
    return json.loads(ran.stdout)


def test_raw_text_with_the_same_split_as_imdb_bow(imdb_available: Path) -> None:
    config = load_study_config("imdb-text")
    assert config.space_module == "spaces.text"
    data = load_search_data(config.data, seed=config.seed)
    assert data.x_train.shape == (15000,) and data.x_val.shape == (10000,)
    assert data.x_train.dtype == object and isinstance(data.x_train[0], str) and data.input_shape == ()
    assert data.y_train.mean() == 0.5 and data.y_val.mean() == 0.5
    for ids, y in ((data.train_ids, data.y_train), (data.val_ids, data.y_val)):
        assert [i.split("/")[1] == "pos" for i in ids] == list(y == 1)
    bow = load_search_data(load_study_config("imdb-bow").data, seed=config.seed)
    assert bow.train_ids == data.train_ids and bow.val_ids == data.val_ids
    holdout = load_holdout_data(config.data, seed=config.seed)
    assert holdout.x_test.shape == (25000,) and not set(holdout.x_test[:1000]) & set(data.x_val[:1000])


@pytest.mark.backend("tensorflow")  # the study's TF-Hub layer: its commands run in this process, on TensorFlow
def test_pretrain_command_then_a_short_run_and_holdout(
    imdb_available: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    module = tmp_path / "module"
    built = _cli(
        capfd,
        "embeddings",
        "pretrain",
        "--limit",
        "400",
        "--dim",
        "8",
        "--vocab-size",
        "3000",
        "--out",
        str(module),
        "--json",
    )
    assert built["output_dim"] == 8 and built["vocabulary_size"] == 3000 and built["num_oov_buckets"] == 1000
    storage = f"sqlite:///{tmp_path / 'text.db'}"
    quick = [
        "--set",
        "data.subset=1000",
        "--set",
        "data.validation_size=0.4",
        "--set",
        "max_epochs=2",
        "--set",
        f'space.handle=["{module}"]',
        "--set",
        "space.batch_size=[64]",
    ]
    summary = _cli(capfd, "run", "imdb-text", "--trials", "3", "--storage", storage, "--json", *quick)
    assert summary["n_finished"] == 3
    study = optuna.load_study(study_name="imdb-text", storage=storage)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    expected = {}
    for group, trainable in (("frozen embeddings", False), ("fine-tuned embeddings", True)):
        values = [t.value for t in complete if t.user_attrs["config"]["trainable"] is trainable]
        if values:
            expected[group] = max(values)
    assert {k: v["value"] for k, v in summary["best_by_group"].items()} == expected
    assert study.user_attrs["best_by_group"] == summary["best_by_group"]

    holdout = _cli(capfd, "holdout", "imdb-text", "--storage", storage, "--json")
    assert holdout["n_train"] == 1000 and holdout["n_test"] == 1000
    assert sum(map(sum, holdout["confusion_matrix"])) == 1000
    script = (
        "import sys, keras, numpy as np; from search.models import HubTextEmbedding; "
        "m = keras.saving.load_model(sys.argv[1]); "
        "print(m.predict(np.array(['a great film', 'awful'], dtype=object), verbose=0).shape)"
    )
    on_tensorflow = {**os.environ, "KERAS_BACKEND": "tensorflow"}  # a TF-Hub module, as the study trained it
    shown = subprocess.run(
        [sys.executable, "-c", script, holdout["model_path"]],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env=on_tensorflow,
    )
    assert shown.stdout.strip().endswith("(2, 1)"), shown.stderr[-2000:]
    assert np.isfinite(holdout["loss"])
