"""The training path on the JAX backend: a study, its holdout, and sparse bag-of-words inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests._helpers import REPO, cli

pytest.importorskip("jax")
JAX = {"KERAS_BACKEND": "jax"}


def test_a_study_and_its_holdout_train_under_jax(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'jax.db'}"
    run = cli("run", "synthetic", "--trials", "3", "--storage", storage, "--no-progress", "--json", env=JAX)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["n_finished"] == 3
    study = optuna.load_study(study_name="synthetic", storage=storage)
    assert {t.user_attrs["backend"] for t in study.trials} == {"jax"}
    holdout = cli("holdout", "synthetic", "--storage", storage, "--json", env=JAX)
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    assert json.loads(holdout.stdout)["accuracy"] > 0.6  # a learnable synthetic problem


SPARSE_SCRIPT = """
import json
import keras, numpy as np, optuna, scipy.sparse as sp
from search import Task
from search.models._training import eval_arguments, fit_arguments
from spaces import bow
assert keras.backend.backend() == "jax"
x = sp.random(1000, 400, density=0.05, format="csr", dtype=np.float32, random_state=1)
x.data[:] = 1.0
y = (np.asarray(x[:, :30].sum(axis=1)).ravel() > 0).astype(np.float32)
params = {"vocab_size": 5000, "ngrams": 1, "mode": "multi-hot", "depth": 1, "units": 16, "input_dropout": 0.3,
          "dropout": 0.0, "l1_on": False, "l2_on": False, "batch_size": 64, "learning_rate": 1e-2}
model = bow.build(bow.suggest(optuna.trial.FixedTrial(params)), input_shape=(400,), task=Task("binary"))
# Batches of 64 rows (the last one filled up) hold different numbers of values: padded BCOO batches.
history = model.fit(**fit_arguments(x[:700], y[:700], batch_size=64, seed=0, validation=(x[700:], y[700:])),
                    epochs=15, verbose=0)
test = eval_arguments(x[700:], y[700:], batch_size=128)  # a smaller last batch
evaluated = model.evaluate(**test, verbose=0, return_dict=True)["accuracy"]
scores = model.predict(**{k: v for k, v in test.items() if k != "y"}, verbose=0).ravel()
print(json.dumps({"val_accuracy": history.history["val_accuracy"][-1], "evaluated": evaluated,
                  "predicted": float(np.mean((scores > 0.5) == (y[700:] > 0.5))), "n_scores": len(scores)}))
"""


def test_sparse_inputs_and_sparse_dropout_train_under_jax() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SPARSE_SCRIPT],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **JAX},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["val_accuracy"] > 0.8
    assert measured["n_scores"] == 300
    assert measured["evaluated"] == pytest.approx(measured["predicted"], abs=1e-6)
    assert measured["evaluated"] == pytest.approx(measured["val_accuracy"], abs=1e-6)  # the same rows and weights


def test_a_jax_study_runs_in_a_worker_when_keras_is_loaded_on_tensorflow(tmp_path: Path) -> None:
    import keras

    from search import run_study

    if keras.backend.backend() == "jax":
        pytest.skip("this process already runs Keras on JAX")
    storage = f"sqlite:///{tmp_path / 'backend.db'}"
    study = run_study("synthetic", n_trials=2, storage=storage, show_progress=False, overrides={"backend": "jax"})
    assert len(study.trials) == 2
    assert {t.user_attrs["backend"] for t in study.trials} == {"jax"}
    assert {t.user_attrs["worker"]["pid"] for t in study.trials} != {os.getpid()}


# What a GPU machine with JAX and no TensorFlow has: every TensorFlow package unimportable, in
# every process the CLI starts (sitecustomize runs at each interpreter's start-up).
NO_TENSORFLOW = """
import sys
for name in ("tensorflow", "tensorflow_hub", "tensorflow_datasets", "tensorflow_text", "tf_keras"):
    sys.modules[name] = None
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("study", "quick"),
    [
        ("imdb-bow", []),
        ("imdb-ngrams", ["--set", "data.max_vocab=20000", "--set", "space.vocab_size=[5000, 20000]"]),
    ],
)
def test_imdb_studies_train_and_evaluate_on_jax_without_tensorflow(
    imdb_available: Path, tmp_path: Path, study: str, quick: list[str]
) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NO_TENSORFLOW)
    env = {"PYTHONPATH": str(blocker), "KERAS_BACKEND": "jax"}
    probe = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, env={**os.environ, **env}
    )
    assert probe.returncode != 0  # the blocker works
    storage = f"sqlite:///{tmp_path / 'notf.db'}"
    quick = [*quick, "--set", "data.subset=2000", "--set", "data.validation_size=0.4", "--set", "max_epochs=2"]
    run = cli("run", study, "--trials", "2", "--storage", storage, "--json", "--no-progress", *quick, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["n_finished"] == 2
    trials = optuna.load_study(study_name=study, storage=storage).trials
    assert {t.user_attrs["backend"] for t in trials} == {"jax"}
    holdout = cli("holdout", study, "--storage", storage, "--json", env=env)
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    assert json.loads(holdout.stdout)["accuracy"] > 0.6
