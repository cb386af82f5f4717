"""The training path on the JAX backend: a study, its holdout, and sparse bag-of-words inputs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests._helpers import REPO, cli, cli_here

pytest.importorskip("jax")
JAX = {"KERAS_BACKEND": "jax"}


def test_a_study_and_its_holdout_train_under_jax(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'jax.db'}"
    run = cli_here(capfd, "run", "synthetic", "--trials", "3", "--storage", storage, "--no-progress", "--json", env=JAX)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout)["n_finished"] == 3
    study = optuna.load_study(study_name="synthetic", storage=storage)
    assert {t.user_attrs["backend"] for t in study.trials} == {"jax"}
    holdout = cli_here(capfd, "holdout", "synthetic", "--storage", storage, "--json", env=JAX)
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    assert json.loads(holdout.stdout)["accuracy"] > 0.6  # a learnable synthetic problem


def _on_jax(script: str) -> dict[str, Any]:
    """What ``script``, run on Keras' JAX backend, prints as JSON on its last line.

    In this process when its Keras runs on JAX (the tests' default); otherwise in a fresh interpreter.
    """
    import keras

    if keras.backend.backend() == "jax":
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(script, "<jax script>", "exec"), {"__name__": "jax_script"})
        return dict(json.loads(printed.getvalue().strip().splitlines()[-1]))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env={**os.environ, **JAX}, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


SPARSE_SCRIPT = """
import json
import keras, numpy as np, optuna, scipy.sparse as sp
from search import Task
from search.models import train
from search.models._training import eval_arguments
from spaces import bow
assert keras.backend.backend() == "jax"
x = sp.random(1000, 400, density=0.05, format="csr", dtype=np.float32, random_state=1)
x.data[:] = 1.0
y = (np.asarray(x[:, :30].sum(axis=1)).ravel() > 0).astype(np.float32)
params = {"vocab_size": 5000, "ngrams": 1, "mode": "multi-hot", "depth": 1, "units": 16, "input_dropout": 0.3,
          "dropout": 0.0, "l1_on": False, "l2_on": False, "batch_size": 64, "learning_rate": 1e-2}
model = bow.build(bow.suggest(optuna.trial.FixedTrial(params)), input_shape=(400,), task=Task("binary"))
# Batches of 64 rows (the last one filled up) hold different numbers of values: padded BCOO batches.
history = train(model, x[:700], y[:700], batch_size=64, seed=0, epochs=15, validation=(x[700:], y[700:]))
test = eval_arguments(x[700:], y[700:], batch_size=128)  # a smaller last batch
evaluated = model.evaluate(**test, verbose=0, return_dict=True)["accuracy"]
scores = model.predict(**{k: v for k, v in test.items() if k != "y"}, verbose=0).ravel()
# Saved for any backend (TensorFlow's XLA has no sparse kernels), loaded back with XLA on here.
from search.models import load_model, save_model
save_model(model, r"MODEL_PATH")
reloaded = load_model(r"MODEL_PATH")
print(json.dumps({"val_accuracy": history.history["val_accuracy"][-1], "evaluated": evaluated,
                  "predicted": float(np.mean((scores > 0.5) == (y[700:] > 0.5))), "n_scores": len(scores),
                  "scores": scores.tolist(), "jit": [model.jit_compile, reloaded.jit_compile],
                  "reloaded": reloaded.predict(x[700:], verbose=0).ravel().tolist()}))
"""

ON_TENSORFLOW = """
import json, sys
import keras, numpy as np, scipy.sparse as sp
from search.models import InputDropout  # registers the layer
assert keras.backend.backend() == "tensorflow"
x = sp.random(1000, 400, density=0.05, format="csr", dtype=np.float32, random_state=1)
x.data[:] = 1.0
model = keras.saving.load_model(sys.argv[1])
print(json.dumps({"jit": model.jit_compile, "scores": model.predict(x[700:], verbose=0).ravel().tolist()}))
"""


def test_sparse_inputs_and_sparse_dropout_train_under_jax_and_the_saved_model_predicts_on_tensorflow(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sparse.keras"
    measured = _on_jax(SPARSE_SCRIPT.replace("MODEL_PATH", str(path)))
    assert measured["val_accuracy"] > 0.8
    assert measured["n_scores"] == 300
    assert measured["evaluated"] == pytest.approx(measured["predicted"], abs=1e-6)
    assert measured["evaluated"] == pytest.approx(measured["val_accuracy"], abs=1e-6)  # the same rows and weights
    assert measured["jit"] == [True, True]  # saving kept the model's XLA steps; loading on JAX turns them on
    assert measured["reloaded"] == pytest.approx(measured["scores"], abs=1e-6)
    # Plain Keras on TensorFlow: with the file's compile config, XLA would fail on the sparse matmul.
    loaded = subprocess.run(
        [sys.executable, "-c", ON_TENSORFLOW, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
        timeout=600,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    on_tensorflow = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert on_tensorflow["jit"] is False
    assert on_tensorflow["scores"] == pytest.approx(measured["scores"], abs=1e-5)


EPOCHS_SCRIPT = """
import json
import keras, numpy as np, scipy.sparse as sp
from search.models import set_seed, train
from search.models._training import eval_arguments
assert keras.backend.backend() == "jax"

def model_for(sparse):
    set_seed(0)
    inputs = keras.Input((50,), sparse=sparse)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dense(8, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    return model

class StopAfter(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = epoch == 1

x = sp.random(690 + 4099, 50, density=0.1, format="csr", dtype=np.float32, random_state=1)
y = (np.asarray(x[:, :10].sum(axis=1)).ravel() > 0.3).astype(np.float32)
out = {}
for sparse in (False, True):
    train_x, val_x = (x[:690], x[690:]) if sparse else (x[:690].toarray(), x[690:].toarray())
    # One step an epoch (Keras shuffles its batches in another order): 690 rows in a batch of 700, filled up
    # with rows of weight zero; 4,099 validation rows in batches of 1,024 and a last one of 3.
    by_fit = model_for(sparse)
    fitted = by_fit.fit(train_x, y[:690], batch_size=700, validation_data=(val_x, y[690:]), epochs=3, verbose=0)
    by_epochs = model_for(sparse)
    trained = train(by_epochs, train_x, y[:690], batch_size=700, seed=3, epochs=3, validation=(val_x, y[690:]))
    evaluated = by_epochs.evaluate(**eval_arguments(val_x, y[690:], batch_size=1024), return_dict=True, verbose=0)
    stopped = train(model_for(sparse), train_x, y[:690], batch_size=64, seed=3, epochs=5, callbacks=[StopAfter()])
    out["sparse" if sparse else "dense"] = {
        "weights": max(float(np.abs(a - b).max()) for a, b in zip(by_fit.get_weights(), by_epochs.get_weights())),
        "fit": fitted.history, "train": trained.history, "evaluated": evaluated,
        "stopped": len(stopped.history["loss"]),
    }
print(json.dumps(out))
"""


def test_compiled_epochs_train_what_model_fit_trains_and_validate_every_row() -> None:
    for kind, got in _on_jax(EPOCHS_SCRIPT).items():
        # The same steps on the same rows: the same model, up to float rounding.
        assert got["weights"] < 1e-4, kind
        assert sorted(got["train"]) == sorted(got["fit"]) == ["accuracy", "loss", "val_accuracy", "val_loss"]
        for key in ("loss", "val_loss", "val_accuracy"):
            assert got["train"][key] == pytest.approx(got["fit"][key], abs=1e-4), (kind, key)
        # Keras' unweighted training metrics also count the 10 rows that fill the batch up (weight zero).
        assert got["train"]["accuracy"] == pytest.approx(got["fit"]["accuracy"], abs=10 / 690), kind
        # Validation covers all 4,099 rows (a smaller last batch included), weighted as Keras weights them.
        assert got["train"]["val_loss"][-1] == pytest.approx(got["evaluated"]["loss"], abs=1e-5), kind
        assert got["train"]["val_accuracy"][-1] == pytest.approx(got["evaluated"]["accuracy"], abs=1e-6), kind
        assert got["stopped"] == 2, kind  # model.stop_training is honoured after the epoch that set it


TRACED_SCRIPT = """
import json, tempfile
from pathlib import Path
import keras, numpy as np
import search.models._epochs
from search.models import compiling, parameter_count, save_model, set_seed, train
from search.models.layers import Dense, Dropout, InputDropout
assert keras.backend.backend() == "jax"

def model(traced, *, rate=0.3, l1=1e-3, l2=1e-2, lr=1e-2, units=16):
    set_seed(0)
    inputs = keras.Input((40,))
    x = InputDropout(0.2, seed=1, traced=traced)(inputs)
    if traced:
        x = Dropout(rate, seed=2, traced=True)(Dense(units, activation="relu", l1=l1, l2=l2, traced=True)(x))
    else:
        penalty = keras.regularizers.L1L2(l1=l1, l2=l2) if l1 or l2 else None
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=penalty)(x)
        x = keras.layers.Dropout(rate, seed=2)(x)
    m = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    m.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return m

def same_start(source, target):
    for a, b in zip(source.layers, target.layers, strict=True):
        hyper = {id(v) for v in getattr(b, "hyperparameters", [])}
        for value, variable in zip(a.weights, [v for v in b.weights if id(v) not in hyper], strict=True):
            variable.assign(np.array(value))  # a copy: training donates its buffers

def fit(m):
    return train(m, x[:300], y[:300], batch_size=32, seed=3, epochs=3, validation=(x[300:], y[300:])).history

rng = np.random.default_rng(0)
x = rng.normal(size=(400, 40)).astype("float32")
y = (x[:, :5].sum(axis=1) > 0).astype("float32")
out = {}
for settings in ({}, {"l1": 0.0, "l2": 0.0}, {"rate": 0.6, "l1": 1e-4, "l2": 0.0}):
    constant, traced = model(False, **settings), model(True, **settings)
    same_start(constant, traced)
    a, b = fit(constant), fit(traced)
    out[json.dumps(settings)] = {
        "weights": max(float(np.abs(p - q).max()) for p, q in zip(
            constant.get_weights(), [w.numpy() for l in traced.layers for w in l.weights
                                     if id(w) not in {id(h) for h in getattr(l, "hyperparameters", [])}])),
        "loss": [a["loss"], b["loss"]], "val_loss": [a["val_loss"], b["val_loss"]],
    }

# Trials of one structure: the second, with other rates, strengths and learning rate, compiles nothing
# (the structure: widths, and which penalty terms are there).
with compiling() as first:
    fit(model(True, rate=0.1, l1=1e-4, l2=0.0, lr=1e-3, units=12))
reused_model = model(True, rate=0.5, l1=1e-3, l2=0.0, lr=3e-2, units=12)
with compiling() as second:
    reused = fit(reused_model)
with compiling() as wider:
    fit(model(True, units=13))
search.models._epochs._PROGRAMS.clear()  # the same model again, with programs of its own
alone_model = model(True, rate=0.5, l1=1e-3, l2=0.0, lr=3e-2, units=12)
alone = fit(alone_model)
# The model whose steps are shared, compiled again (as one fine-tunes it): a later model gets steps of its own.
template = model(True, rate=0.1, l1=1e-4, l2=0.0, lr=1e-3, units=9)
fit(template)
template.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
after = model(True, rate=0.4, l1=1e-3, l2=0.0, lr=1e-2, units=9)
after_history = fit(after)
search.models._epochs._PROGRAMS.clear()
again = model(True, rate=0.4, l1=1e-3, l2=0.0, lr=1e-2, units=9)
again_history = fit(again)
pairs = zip(after.get_weights(), again.get_weights())
out["recompiled"] = {"loss": [after_history["loss"], again_history["loss"]],
                     "weights": max(float(np.abs(p - q).max()) for p, q in pairs)}
path = Path(tempfile.mkdtemp()) / "m.keras"
save_model(reused_model, path)
loaded = keras.saving.load_model(path)
out["compiles"] = {"first": first.requests, "first_s": first.seconds, "second": second.requests,
                   "second_s": second.seconds,
                   "wider": wider.requests}
pairs = zip(reused_model.get_weights(), alone_model.get_weights())
out["reused"] = {"loss": [reused["loss"], alone["loss"]],
                 "val_accuracy": [reused["val_accuracy"], alone["val_accuracy"]],
                 "weights": max(float(np.abs(p - q).max()) for p, q in pairs)}
out["saved"] = {"layers": [type(l).__module__.split(".")[0] + "." + type(l).__name__ for l in loaded.layers],
                "params": [loaded.count_params(), parameter_count(reused_model)],
                "rate": loaded.layers[3].rate, "l1": float(loaded.layers[2].kernel_regularizer.l1),
                "scores": float(np.abs(loaded.predict(x, verbose=0) - reused_model.predict(x, verbose=0)).max())}
print(json.dumps(out))
"""


def test_traced_rates_and_strengths_train_as_constants_do_and_one_structure_compiles_once() -> None:
    got = _on_jax(TRACED_SCRIPT)
    for settings in ("{}", '{"l1": 0.0, "l2": 0.0}', '{"rate": 0.6, "l1": 0.0001, "l2": 0.0}'):
        # The same masks, penalties and steps: the same model, up to float rounding.
        assert got[settings]["weights"] < 1e-4, settings
        for key in ("loss", "val_loss"):
            assert got[settings][key][0] == pytest.approx(got[settings][key][1], abs=1e-4), (settings, key)
    compiles = got["compiles"]
    assert compiles["first"] >= 2  # its epoch and its validation
    # Nothing compiled, and its steps not traced again (a few ms of tracing remain: Keras' own small functions).
    assert compiles["second"] == 0 and compiles["second_s"] < compiles["first_s"] / 10
    assert compiles["wider"] >= 2  # another width is another program
    # The shared program trains the second model as programs of its own would.
    assert got["reused"]["weights"] < 1e-6
    assert got["reused"]["loss"][0] == pytest.approx(got["reused"]["loss"][1], abs=1e-6)
    assert got["reused"]["val_accuracy"][0] == got["reused"]["val_accuracy"][1]
    assert got["recompiled"]["weights"] < 1e-6
    assert got["recompiled"]["loss"][0] == pytest.approx(got["recompiled"]["loss"][1], abs=1e-6)
    # Saved, the rates and strengths are constants of ordinary Keras layers; the predictions are the same.
    saved = got["saved"]
    assert saved["layers"][2:4] == ["keras.Dense", "keras.Dropout"]
    assert saved["rate"] == 0.5 and saved["l1"] == pytest.approx(1e-3)
    assert saved["params"][0] == saved["params"][1] == 40 * 12 + 12 + 12 + 1
    assert saved["scores"] < 1e-6


def test_a_study_on_another_backend_than_keras_loaded_runs_in_a_worker(tmp_path: Path) -> None:
    import keras

    from search import run_study

    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    storage = f"sqlite:///{tmp_path / 'backend.db'}"
    study = run_study("synthetic", n_trials=2, storage=storage, show_progress=False, overrides={"backend": other})
    assert len(study.trials) == 2
    assert {t.user_attrs["backend"] for t in study.trials} == {other}
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


def test_a_second_run_finds_its_programs_in_the_persistent_compilation_cache(tmp_path: Path) -> None:
    env = {**JAX, "SEARCH_COMPILE_CACHE": str(tmp_path / "xla")}

    def compilation(name: str, **extra: str) -> dict[str, Any]:
        storage = f"sqlite:///{tmp_path / name}"
        run = cli("run", "synthetic", "--trials", "2", "--storage", storage, "--no-progress", "--json", env=env | extra)
        assert run.returncode == 0, run.stderr[-3000:]
        return dict(json.loads(run.stdout)["compilation"])

    first = compilation("first.db")
    assert first["trials"] == 2 and first["cache_misses"] > 0 and first["seconds_compiling"] > 0
    assert any((tmp_path / "xla").iterdir())  # the compiled programs are on disk
    # the same seed draws the same trials: a fresh process finds their programs compiled
    second = compilation("second.db")
    assert second["cache_hits"] > 0 and second["cache_misses"] < first["cache_misses"]
    off = compilation("off.db", SEARCH_COMPILE_CACHE="off")
    assert off["cache_hits"] == 0
