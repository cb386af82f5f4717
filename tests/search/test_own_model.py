"""One's own Keras model as Keras users write it: sparse and several inputs, fit arguments, the task from the loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
import scipy.sparse as sp

from search import InputError, evaluate_holdout, load_predictor, tune
from tests._helpers import cli

RNG = np.random.default_rng(0)


def _sparse_rows(n: int, width: int = 300, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """A bag of words: the label is whether the first 20 columns hold more than the next 20."""
    rng = np.random.default_rng(seed)
    x = sp.random(n, width, density=0.05, format="csr", dtype=np.float32, random_state=rng)
    x.data[:] = 1.0
    y = (np.asarray(x[:, :20].sum(axis=1)).ravel() > np.asarray(x[:, 20:40].sum(axis=1)).ravel()).astype("float32")
    return x, y


SPARSE_BUILD = """
import keras


def build(trial):
    inputs = keras.Input((300,), sparse=True)
    hidden = keras.layers.Dense(trial.suggest_int("units", 4, 16), activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return model
"""


BOTH_WORKERS = """
import os
import pathlib
import time


def build_once_both_run(trial):
    # Each worker's first model waits for the other worker's (a file per worker process, named by the caller in
    # RENDEZVOUS): a worker that started first would otherwise take both first trials before the other has
    # imported Keras.
    here = pathlib.Path(os.environ.get("RENDEZVOUS", "."))
    mine = here / f"{os.getpid()}.started"
    if os.environ.get("RENDEZVOUS_CALLER", str(os.getpid())) != str(os.getpid()) and not mine.exists():
        mine.touch()
        deadline = time.monotonic() + 120
        while len(list(here.glob("*.started"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    return build(trial)
"""


def test_sparse_inputs_search_in_two_workers_cross_validate_hold_out_and_predict(tmp_path: Path) -> None:
    x, y = _sparse_rows(500)
    x_test, y_test = _sparse_rows(120, seed=1)
    sp.save_npz(tmp_path / "x.npz", x)
    sp.save_npz(tmp_path / "x_test.npz", x_test)
    np.savez(tmp_path / "y.npz", y=y, y_test=y_test)
    script = tmp_path / "sparse.py"
    script.write_text(
        SPARSE_BUILD
        + BOTH_WORKERS
        + textwrap.dedent(
            """
        import os
        import sys
        import numpy as np
        import scipy.sparse as sp
        from search import tune

        if __name__ == "__main__":
            folder = sys.argv[1]
            os.environ.update(RENDEZVOUS=folder, RENDEZVOUS_CALLER=str(os.getpid()))  # the workers inherit both
            x = sp.load_npz(f"{folder}/x.npz").tocoo()  # COO, as a user may have it
            x_test = sp.load_npz(f"{folder}/x_test.npz")
            y = np.load(f"{folder}/y.npz")
            study = tune(build_once_both_run, x, y["y"], test_data=(x_test, y["y_test"]), cv=2, metric="val_accuracy",
                         n_trials=2, max_epochs=3, storage=sys.argv[2], study_name="sparse", workers=2,
                         show_progress=False)
            print(sorted({t.user_attrs["worker"]["pid"] for t in study.trials}))
        """
        )
    )
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path), url], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(json.loads(run.stdout.split("\n")[-2])) == 2  # both trials ran in worker processes
    study = optuna.load_study(study_name="sparse", storage=url)
    assert all(len(t.user_attrs["folds"]) == 2 for t in study.trials)
    holdout = cli("holdout", "sparse", "--storage", url, "--json", cwd=tmp_path)  # the same user: no flag
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    assert json.loads(holdout.stdout)["n_test"] == 120
    scores = load_predictor("sparse", storage=url).predict_scores(x_test)
    assert scores.shape == (120, 1) and np.isfinite(scores).all()


def _two_inputs(trial: optuna.trial.BaseTrial) -> keras.Model:
    words = keras.Input((6,), name="words")
    stars = keras.Input((2,), name="stars")
    joined = keras.layers.Concatenate()([words, stars])
    hidden = keras.layers.Dense(trial.suggest_int("units", 4, 8), activation="relu")(joined)
    model = keras.Model({"words": words, "stars": stars}, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_a_two_input_model_with_dict_inputs_searches_holds_out_and_predicts(tmp_path: Path) -> None:
    words, stars = RNG.normal(size=(400, 6)).astype("float32"), RNG.normal(size=(400, 2)).astype("float32")
    y = (words[:, 0] + stars[:, 1] > 0).astype("float32")
    x = {"words": words[:300], "stars": stars[:300]}
    test = ({"words": words[300:], "stars": stars[300:]}, y[300:])
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tune(_two_inputs, x, y[:300], test_data=test, metric="val_accuracy", n_trials=2, max_epochs=5,
                 storage=url, study_name="two", show_progress=False)  # fmt: skip
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2
    result = evaluate_holdout("two", storage=url, show_progress=False)
    assert result["n_train"] == 300 and result["n_test"] == 100 and result["accuracy"] > 0.7
    predictor = load_predictor("two", storage=url)
    assert predictor.predict_scores(test[0]).shape == (100, 1)
    with pytest.raises(InputError, match="x: 300 inputs but 10 targets"):
        tune(_two_inputs, x, y[:10], storage=url, study_name="other", show_progress=False)


def _binary(trial: optuna.trial.BaseTrial) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    rate = trial.suggest_float("rate", 0.02, 0.03)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _imbalanced(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + 0.8 * RNG.normal(size=n) > 1.6).astype("float32")  # about 8% positives
    return x, y


def test_class_weight_lowers_the_loss_on_the_minority_class(tmp_path: Path) -> None:
    x, y = _imbalanced()
    minority = y == 1
    losses = {}
    for weighted in (False, True):
        url = f"sqlite:///{tmp_path / f'w{weighted}.db'}"
        options = {"class_weight": {0: 1.0, 1: 10.0}} if weighted else {}
        tune(_binary, x, y, test_data=(x, y), metric="val_loss", n_trials=1, max_epochs=10, patience=10,
             storage=url, study_name="imbalanced", show_progress=False, seed=3, **options)  # fmt: skip
        evaluate_holdout("imbalanced", storage=url, show_progress=False)
        scores = load_predictor("imbalanced", storage=url).predict_scores(x).ravel()
        losses[weighted] = float(-np.mean(np.log(np.clip(scores[minority], 1e-7, 1))))
    assert losses[True] < 0.8 * losses[False], losses  # the weighted model is far less wrong on the positives


def test_sample_weights_follow_their_rows_through_a_validation_split_and_folds(tmp_path: Path) -> None:
    from search.data import load_holdout_data, load_search_data
    from search.engine import open_existing

    x, y = _imbalanced(200)
    x[:, 3] = np.arange(200)  # each row carries its number
    weights = np.arange(200, dtype="float32") + 0.5  # and a weight derived from it
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    for cv in (1, 4):
        name = f"weights-{cv}"
        tune(_binary, x, y, sample_weight=weights, test_data=(x[:20], y[:20]), cv=cv, n_trials=1, max_epochs=1,
             storage=url, study_name=name, show_progress=False)  # fmt: skip
        opened = open_existing(name, storage=url)
        config, settings = opened.config, opened.data_settings()
        search_data = load_search_data(settings, seed=config.seed, cv=config.cv)
        for part in search_data.folds or (search_data,):
            for xs, ws in ((part.x_train, part.w_train), (part.x_val, part.w_val)):
                np.testing.assert_array_equal(ws, xs[:, 3] + 0.5)
        holdout = load_holdout_data(settings, seed=config.seed, cv=config.cv)
        np.testing.assert_array_equal(holdout.w_train, holdout.x_train[:, 3] + 0.5)


CALLBACK = """
import json, os
import keras


class Seen(keras.callbacks.Callback):
    \"\"\"Appends each epoch it sees to a file, with the process that trained it.\"\"\"

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as out:
            out.write(json.dumps({"pid": os.getpid(), "epoch": epoch, "loss": float(logs["loss"])}) + "\\n")
"""


def test_a_callback_of_ones_own_sees_every_epoch_of_every_trial_in_worker_processes(tmp_path: Path) -> None:
    script = tmp_path / "callback.py"
    script.write_text(
        CALLBACK
        + SPARSE_BUILD.replace("import keras\n", "")
        + BOTH_WORKERS
        + textwrap.dedent(
            """
        import os
        import sys
        import numpy as np
        import scipy.sparse as sp
        from search import tune

        if __name__ == "__main__":
            os.environ.update(RENDEZVOUS=os.path.dirname(sys.argv[1]), RENDEZVOUS_CALLER=str(os.getpid()))
            x = sp.random(300, 300, density=0.05, format="csr", dtype=np.float32, random_state=0)
            y = (np.asarray(x[:, :20].sum(axis=1)).ravel() > 0.5).astype("float32")
            study = tune(build_once_both_run, x, y, callbacks=[Seen(sys.argv[1])], n_trials=3, max_epochs=4, patience=4,
                         storage=sys.argv[2], study_name="seen", show_progress=False)  # workers: as run picks
            print(json.dumps({t.number: t.user_attrs["epochs_trained"] for t in study.trials}))
            print(json.dumps(sorted({t.user_attrs["worker"]["pid"] for t in study.trials})))
        """
        )
    )
    log = tmp_path / "epochs.jsonl"
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run = subprocess.run(
        [sys.executable, str(script), str(log), url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        env={**os.environ, "SEARCH_WORKERS": "2"},  # the automatic choice, as on a two-core machine
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "2 worker(s): SEARCH_WORKERS" in run.stderr and "2 workers on CPU" in run.stderr
    trained, workers = (json.loads(line) for line in run.stdout.strip().splitlines()[-2:])
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(seen) == sum(trained.values())  # every epoch of every trial
    assert {entry["pid"] for entry in seen} == set(workers) and len(workers) == 2  # in the worker processes


@pytest.mark.parametrize(
    "callback", [keras.callbacks.EarlyStopping(), keras.callbacks.ModelCheckpoint("m.keras")], ids=type
)
def test_callbacks_that_fight_the_tools_own_are_refused(tmp_path: Path, callback: object) -> None:
    x, y = _imbalanced(100)
    with pytest.raises(InputError, match="the tool stops and checkpoints every trial itself") as info:
        tune(_binary, x, y, callbacks=[callback], storage=f"sqlite:///{tmp_path / 's.db'}", show_progress=False)
    assert "\n" not in str(info.value) and not (tmp_path / "s.db").exists()


def test_tensorboard_writes_each_trial_under_its_own_folder(tmp_path: Path) -> None:
    x, y = _imbalanced(200)
    logs = tmp_path / "logs"
    tune(_binary, x, y, callbacks=[keras.callbacks.TensorBoard(log_dir=str(logs))], n_trials=2, max_epochs=2,
         storage=f"sqlite:///{tmp_path / 's.db'}", show_progress=False)  # fmt: skip
    assert sorted(p.name for p in logs.iterdir()) == ["trial-0", "trial-1"]


def test_a_stream_into_a_binary_crossentropy_model_needs_no_task(tmp_path: Path) -> None:
    import tensorflow as tf

    x, y = _imbalanced(300)
    train = tf.data.Dataset.from_tensor_slices((x[:240], y[:240])).batch(32)
    val = tf.data.Dataset.from_tensor_slices((x[240:], y[240:])).batch(32)
    study = tune(_binary, train, validation_data=val, metric="val_loss", n_trials=1, max_epochs=2,
                 storage=f"sqlite:///{tmp_path / 's.db'}", show_progress=False)  # fmt: skip
    assert study.trials[0].state.name == "COMPLETE"


def test_a_loss_that_contradicts_the_targets_is_one_line(tmp_path: Path) -> None:
    x = RNG.normal(size=(90, 4)).astype("float32")
    y = np.arange(90) % 3  # three classes, into a sigmoid and binary cross-entropy
    with pytest.raises(InputError, match="binary_crossentropy.*3 classes") as info:
        tune(_binary, x, y, storage=f"sqlite:///{tmp_path / 's.db'}", show_progress=False)
    assert "\n" not in str(info.value) and not (tmp_path / "s.db").exists()


def _regression(trial: optuna.trial.BaseTrial) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(trial.suggest_int("units", 2, 4)), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def _softmax_without_input(trial: optuna.trial.BaseTrial) -> keras.Model:
    model = keras.Sequential(
        [keras.layers.Dense(trial.suggest_int("units", 2, 4)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Locked(keras.callbacks.Callback):
    """A callback holding a lock: it cannot travel to another process."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


X4 = RNG.normal(size=(90, 4)).astype("float32")
BAD_FIT_INPUTS = {
    "labels into a regression loss": (
        _regression, {"y": np.array(["a", "b", "c"] * 30)}, "the model's loss mse is for numbers but y holds"
    ),
    "weighted test data": (
        _binary, {"test_data": (X4[:10], np.arange(10) % 2, np.ones(10))}, "test_data takes (x, y)"
    ),
    "inputs of different lengths": (
        _binary, {"x": {"a": X4, "b": X4[:80]}}, "x: its inputs have different numbers of rows (80, 90)"
    ),
    "words as sample weights": (_binary, {"sample_weight": ["heavy"] * 90}, "sample_weight: weights must be numbers"),
    "a callback that cannot be pickled": (_binary, {"callbacks": [Locked()]}, "callbacks cannot be pickled"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FIT_INPUTS))
def test_fit_inputs_that_cannot_work_are_one_line_and_write_nothing(tmp_path: Path, case: str) -> None:
    build, given, message = BAD_FIT_INPUTS[case]
    arguments = {"x": X4, "y": np.arange(90) % 2} | given
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        tune(build, storage=f"sqlite:///{tmp_path / 's.db'}", show_progress=False, n_trials=1, **arguments)
    assert "\n" not in str(info.value) and not (tmp_path / "s.db").exists()


def test_a_softmax_model_without_an_input_takes_three_classes(tmp_path: Path) -> None:
    y = np.arange(90) % 3  # the width is not known before the model is called: the targets give the classes
    study = tune(_softmax_without_input, X4, y, n_trials=1, max_epochs=1, storage=f"sqlite:///{tmp_path / 's.db'}",
                 show_progress=False, workers=1)  # fmt: skip
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
