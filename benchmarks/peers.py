"""This framework against two peers on ``imdb-bow``: same space, same wall-clock budget, one machine, one run.

Arms, each in its own fresh subprocess, one after the other (so they never share the CPU):

- ``framework``: ``python -m search run imdb-bow`` as a user types it (the study as shipped: JAX
  backend, sparse multi-hot rows, TPE with constant liar + Hyperband pruning (median pruning before
  2026-12-07 17:40), vectorized-data cache,
  per-epoch checkpoints; the workers ``run`` picks itself: one per core, each pinned to its core; or
  ``--framework-workers N``), then ``python -m search holdout`` and ``holdout --ensemble 5`` (its
  own column: no peer builds an ensemble, so the single-model holdout is the like-for-like one).
- ``optuna``: the competent plain Optuna + Keras script, the headline baseline: the data are
  vectorized once before its clock starts (the notebook's 10,000-word multi-hot vectors, as
  ``float32``) and loaded from a file when it starts; the same space, the study's sampler
  (``TPESampler(n_startup_trials=10, multivariate=True, seed=42)``) and pruner
  (``HyperbandPruner(min_resource=1, max_resource=20, reduction_factor=3)``; before 2026-12-07 17:40, as
  the study then, ``MedianPruner(n_startup_trials=5, n_warmup_steps=1)``) through ``KerasPruningCallback``, the same
  storage kind (SQLite), early stopping as the study's, Keras' default backend (TensorFlow), one process.
- ``kerastuner``: ``keras_tuner.Hyperband`` (max 20 epochs, factor 3, seed 42) on the same prepared
  ``float32`` data, loaded once per search.
- ``optuna-notebook``: a weaker variant, labelled as such: a plain script in the style of
  optuna-examples ``keras_integration.py`` whose objective reads and vectorizes the data itself on
  every trial (Deep Learning with Python's ``vectorize_sequences``, ``float64``), TPE (seed 42) and
  ``MedianPruner(n_startup_trials=5, n_warmup_steps=3)``.

The search space is the one of ``spaces/mlp.py`` with its default bounds, written once for both peers
in :func:`sample_space`.

Budget rule, the same for all arms: the clock starts when the arm's subprocess is started
(interpreter and TensorFlow start-up count; so does the framework's data loading from its cache and the
notebook-way script's reading, but not the competent arms' one-off vectorization, done before). Trials may start during
``--budget`` seconds; a trial running at the deadline may finish (what Optuna's ``timeout`` does),
then the arm is stopped: the Optuna script and the KerasTuner child stop themselves (KerasTuner has
no timeout: its child refuses to create a trial after the deadline), the framework, whose
``--timeout`` counts from after its start-up, is killed as soon as no trial that started before the
deadline is still running. Counted: trials that started before the deadline and finished, and all
epochs of the trials that started before it; trials per hour use each arm's whole wall time,
tail included. A hard limit (``--grace`` seconds after the deadline) kills whatever still runs. The
holdout (retrain the best configuration on all 25,000 training reviews for its best epoch count,
test once on the 25,000 test reviews) runs afterwards in another subprocess and is not counted.

Usage::

    python benchmarks/peers.py --budget 600 [--arms framework,optuna,kerastuner,optuna-notebook] [--out FILE]
        [--framework-set KEY=VALUE ...] [--framework-workers N]
    python benchmarks/peers.py --pruning [--trials 20] [--framework-set KEY=VALUE ...]

Environment: ``SEARCH_DATA_DIR`` (folder of ``aclImdb_v1.tar.gz``; ``--archive`` names the file
directly) and ``SEARCH_CACHE_DIR`` (the framework's cache), both passed through to the arms.
Needs ``keras-tuner`` (``pip install -e .[bench]``) for the ``kerastuner`` arm.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import math
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import keras

REPO = Path(__file__).resolve().parents[1]
STUDY = "imdb-bow"
TARGET = 0.89
ENSEMBLE = 5  # the framework's own final model, which no peer builds: the average of its 5 best configurations
SEED = 42
VOCAB_SIZE = 10_000
VALIDATION_SIZE = 10_000
MAX_EPOCHS = 20
PATIENCE = 3
ARMS = ("framework", "optuna", "kerastuner", "optuna-notebook")
CHECKPOINTS = (30, 60, 120, 300, 600)  # seconds from an arm's start at which --seeds reports the best so far
TARGETS = (0.889, 0.891)  # validation accuracies whose time to reach --seeds reports
LABELS = {
    "framework": "this framework (`python -m search run imdb-bow`)",
    "optuna": "plain Optuna + Keras script, data prepared once (the competent baseline)",
    "kerastuner": "KerasTuner Hyperband, data prepared once",
    "optuna-notebook": "weaker variant: plain script re-reading the data every trial (notebook way)",
}
SHORT = {
    "optuna": "competent plain script",
    "kerastuner": "KerasTuner Hyperband",
    "optuna-notebook": "notebook-way script",
}
PREPARED = "prepared.npz"  # the competent arms' data, vectorized before their clocks start
EPOCH_LOG = "epochs.jsonl"  # peers' children: one line per finished epoch
TRIAL_LOG = "trials.jsonl"  # kerastuner child: one line per finished trial


# --------------------------------------------------------------------------- the shared search space


class HyperParameters(Protocol):
    """The part of ``keras_tuner.HyperParameters`` that :func:`sample_space` uses."""

    def Int(self, name: str, min_value: int, max_value: int, *, sampling: str = "linear") -> int: ...

    def Float(self, name: str, min_value: float, max_value: float, *, sampling: str = "linear") -> float: ...

    def Boolean(self, name: str) -> bool: ...

    def Choice(self, name: str, values: list[Any]) -> Any: ...


def sample_space(hp: HyperParameters) -> dict[str, Any]:
    """Sample the ``spaces/mlp.py`` space (default bounds) through KerasTuner-style calls.

    The parameters are drawn in the framework's order and with its names, ranges and log scales.

    Args:
        hp: A ``keras_tuner.HyperParameters``, an :class:`OptunaHp` or a :class:`FixedHp`.

    Returns:
        The model configuration: ``layer_units``, ``input_dropout``, ``dropout``, ``l1``, ``l2``,
        ``activation``, ``batch_size`` and ``learning_rate``.

    Example:
        >>> config = sample_space(FixedHp({"depth": 2, "units": 64, "taper": 0.5, "input_dropout": 0.2,
        ...     "dropout": 0.3, "l1_on": False, "l2_on": True, "l2": 1e-4, "batch_size": 512,
        ...     "learning_rate": 1e-3}))
        >>> config["layer_units"]
        [64, 32]
    """
    depth = hp.Int("depth", 1, 3)
    units = hp.Int("units", 8, 256, sampling="log")
    taper = hp.Float("taper", 0.25, 1.0) if depth > 1 else 1.0
    input_dropout = hp.Float("input_dropout", 0.0, 0.6)
    dropout = hp.Float("dropout", 0.0, 0.7)
    l1 = hp.Float("l1", 1e-7, 1e-3, sampling="log") if hp.Boolean("l1_on") else 0.0
    l2 = hp.Float("l2", 1e-6, 1e-2, sampling="log") if hp.Boolean("l2_on") else 0.0
    return {
        "layer_units": [max(2, round(units * taper**i)) for i in range(depth)],
        "input_dropout": input_dropout,
        "dropout": dropout,
        "l1": l1,
        "l2": l2,
        "activation": "relu",
        "batch_size": hp.Choice("batch_size", [32, 64, 128, 256, 512]),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
    }


class OptunaHp:
    """KerasTuner-style calls answered by an Optuna trial's ``suggest_*`` methods."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def Int(self, name: str, min_value: int, max_value: int, *, sampling: str = "linear") -> int:
        return int(self.trial.suggest_int(name, min_value, max_value, log=sampling == "log"))

    def Float(self, name: str, min_value: float, max_value: float, *, sampling: str = "linear") -> float:
        return float(self.trial.suggest_float(name, min_value, max_value, log=sampling == "log"))

    def Boolean(self, name: str) -> bool:
        return bool(self.trial.suggest_categorical(name, [False, True]))

    def Choice(self, name: str, values: list[Any]) -> Any:
        return self.trial.suggest_categorical(name, values)


class FixedHp:
    """KerasTuner-style calls answered from a dict of values (to rebuild a best configuration)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def Int(self, name: str, min_value: int, max_value: int, *, sampling: str = "linear") -> int:
        return int(self.values[name])

    def Float(self, name: str, min_value: float, max_value: float, *, sampling: str = "linear") -> float:
        return float(self.values[name])

    def Boolean(self, name: str) -> bool:
        return bool(self.values[name])

    def Choice(self, name: str, values: list[Any]) -> Any:
        return self.values[name]


def build_model(config: dict[str, Any], input_dim: int = VOCAB_SIZE) -> keras.Model:
    """The MLP of ``spaces/mlp.py``: input dropout, ReLU layers with L1L2 and dropout, sigmoid output, Adam.

    Args:
        config: A dict from :func:`sample_space`.
        input_dim: Length of the multi-hot vectors.
    """
    import keras

    regularizer = keras.regularizers.L1L2(l1=config["l1"], l2=config["l2"]) if config["l1"] or config["l2"] else None
    inputs = keras.Input(shape=(input_dim,))
    x = inputs
    if config["input_dropout"] > 0:
        x = keras.layers.Dropout(config["input_dropout"])(x)
    for units in config["layer_units"]:
        x = keras.layers.Dense(units, activation=config["activation"], kernel_regularizer=regularizer)(x)
        if config["dropout"] > 0:
            x = keras.layers.Dropout(config["dropout"])(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config["learning_rate"]),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


# --------------------------------------------------------------------------- data, the notebook way

_NAME = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+)_\d+\.txt$")
# What keras.layers.TextVectorization's default "lower_and_strip_punctuation" removes.
_PUNCTUATION = re.compile(r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~']")


def read_archive(path: Path, splits: Sequence[str] = ("train", "test")) -> dict[str, tuple[list[str], np.ndarray]]:
    """Review texts and labels (1 positive) of ``aclImdb_v1.tar.gz``, sorted by label then review id.

    Args:
        path: The archive.
        splits: Which of ``"train"`` and ``"test"`` to read.
    """
    found: dict[str, list[tuple[int, int, str]]] = {split: [] for split in splits}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            match = _NAME.search(member.name)
            if not match or match.group(1) not in found:
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            label = int(match.group(2) == "pos")
            found[match.group(1)].append((label, int(match.group(3)), handle.read().decode("utf-8")))
    result = {}
    for split, rows in found.items():
        rows.sort(key=lambda row: (row[0], row[1]))
        result[split] = ([text for _, _, text in rows], np.array([label for label, _, _ in rows], dtype=np.float64))
    return result


def tokenize(text: str) -> list[str]:
    """Lower-case, ``<br />`` removed, punctuation stripped (as ``TextVectorization`` does), split on spaces."""
    return _PUNCTUATION.sub("", text.replace("<br />", " ").lower()).split()


def vectorize_sequences(sequences: list[list[int]], dimension: int = VOCAB_SIZE, dtype: Any = np.float64) -> np.ndarray:
    """The notebook's multi-hot encoding: an array (``float64`` as in the notebook) with ones at each review's words."""
    results = np.zeros((len(sequences), dimension), dtype=dtype)
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.0
    return results


def load_notebook_data(archive: Path, *, with_test: bool, dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Read and vectorize IMDB the notebook way; nothing is cached.

    The vocabulary is the 10,000 most frequent words of the 25,000 training reviews. The training
    reviews are shuffled with ``np.random.default_rng(42).permutation`` (the archive is sorted by
    label); the first 10,000 are the validation set, the other 15,000 the partial-train set.

    Args:
        archive: ``aclImdb_v1.tar.gz``.
        with_test: Also vectorize the 25,000 test reviews.
        dtype: Of the vectors: the notebook's ``float64``, or ``float32`` as a competent user keeps them.

    Returns:
        ``x_train``/``y_train`` (all 25,000, shuffled), ``x_partial``/``y_partial`` (15,000) and
        ``x_val``/``y_val`` (10,000), views of the former; with ``with_test``, ``x_test``/``y_test``.
    """
    data = read_archive(archive, ("train", "test") if with_test else ("train",))
    texts, labels = data["train"]
    order = np.random.default_rng(SEED).permutation(len(texts))
    tokens = [tokenize(texts[i]) for i in order]
    counts = collections.Counter(word for review in tokens for word in review)
    word_index = {word: i for i, (word, _) in enumerate(counts.most_common(VOCAB_SIZE))}

    def encode(reviews: list[list[str]]) -> np.ndarray:
        return vectorize_sequences(
            [[word_index[w] for w in review if w in word_index] for review in reviews], dtype=dtype
        )

    x_train, y_train = encode(tokens), labels[order]
    arrays = {
        "x_train": x_train,
        "y_train": y_train,
        "x_val": x_train[:VALIDATION_SIZE],
        "y_val": y_train[:VALIDATION_SIZE],
        "x_partial": x_train[VALIDATION_SIZE:],
        "y_partial": y_train[VALIDATION_SIZE:],
    }
    if with_test:
        test_texts, test_labels = data["test"]
        arrays["x_test"] = encode([tokenize(text) for text in test_texts])
        arrays["y_test"] = test_labels
    return arrays


def prepare_data(archive: Path, path: Path) -> None:
    """Vectorize IMDB once for the competent arms (before their clocks start) and save it to ``path``.

    Saved as sparse matrices (a tenth of the size) that :func:`load_prepared` expands to the same
    ``float32`` multi-hot arrays.
    """
    import scipy.sparse as sp

    data = load_notebook_data(archive, with_test=False, dtype=np.float32)
    sp.save_npz(path, sp.csr_matrix(data["x_train"]), compressed=False)
    np.save(path.with_suffix(".labels.npy"), data["y_train"].astype(np.float32))


def load_prepared(path: Path) -> dict[str, np.ndarray]:
    """The prepared data as the competent arms train on them: ``float32`` multi-hot partial-train and validation."""
    import scipy.sparse as sp

    x = sp.load_npz(path).toarray()
    y = np.load(path.with_suffix(".labels.npy"))
    return {
        "x_val": x[:VALIDATION_SIZE],
        "y_val": y[:VALIDATION_SIZE],
        "x_partial": x[VALIDATION_SIZE:],
        "y_partial": y[VALIDATION_SIZE:],
    }


def _epoch_logger(path: Path, trial: str) -> keras.callbacks.Callback:
    """A callback appending ``{"t", "trial", "epoch", "val_accuracy"}`` to ``path`` after each epoch."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            line = {"t": time.time(), "trial": trial, "epoch": epoch, "val_accuracy": (logs or {}).get("val_accuracy")}
            with path.open("a") as handle:
                handle.write(json.dumps(line) + "\n")

    return EpochLogger()


def _early_stopping() -> keras.callbacks.Callback:
    import keras

    return keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=PATIENCE, restore_best_weights=True)


# --------------------------------------------------------------------------- the peers' child processes


class BudgetSpent(Exception):
    """Raised by the KerasTuner child instead of creating a trial after the deadline."""


def child_kerastuner(workdir: Path, prepared: Path, deadline: float, seed: int = SEED) -> None:
    """KerasTuner Hyperband on the prepared data, creating trials until ``deadline`` (epoch seconds)."""
    import keras
    import keras_tuner

    keras.utils.set_random_seed(seed)
    epoch_log, trial_log = workdir / EPOCH_LOG, workdir / TRIAL_LOG
    data = load_prepared(prepared)

    class HyperMLP(keras_tuner.HyperModel):
        def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
            return build_model(sample_space(hp))

        def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    class LoggedHyperband(keras_tuner.Hyperband):
        def pre_create_trial(self) -> None:
            if time.time() >= deadline:
                raise BudgetSpent
            super().pre_create_trial()

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["callbacks"] = [_epoch_logger(epoch_log, trial.trial_id), *kwargs.get("callbacks", [])]
            return super().run_trial(trial, *args, **kwargs)

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            done = self.oracle.get_trial(trial.trial_id)
            line = {"t": time.time(), "trial": trial.trial_id, "status": str(done.status), "score": done.score}
            with trial_log.open("a") as handle:
                handle.write(json.dumps(line) + "\n")

        def _configure_tensorboard_dir(self, callbacks: list[Any], trial: Any, execution: int = 0) -> None:
            # KerasTuner imports tensorboard here even without a TensorBoard callback, and
            # TensorFlow 2.21 no longer installs it: only needed when one is passed.
            if any(type(c).__name__ == "TensorBoard" for c in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

    tuner = LoggedHyperband(
        HyperMLP(),
        objective="val_accuracy",
        max_epochs=MAX_EPOCHS,
        factor=3,
        # One Hyperband iteration (about 20 trials) can end before a long budget: keep iterating.
        hyperband_iterations=1000,
        seed=seed,
        directory=str(workdir),
        project_name="hb",
    )
    try:
        tuner.search(
            data["x_partial"],
            data["y_partial"],
            validation_data=(data["x_val"], data["y_val"]),
            callbacks=[_early_stopping()],
            verbose=0,
        )
    except BudgetSpent:
        print("budget spent: no new trial", file=sys.stderr)


_OPTUNA_ARCHIVE: Path | None = None
_OPTUNA_EPOCH_LOG: Path | None = None
_OPTUNA_DATA: dict[str, np.ndarray] | None = None  # the competent script's data, loaded once


def objective(trial: Any) -> float:
    """The plain scripts' objective: build from ``trial.suggest_*``, fit with early stopping and pruning.

    The competent script's data were loaded once, before the study; the notebook-way script reads
    and vectorizes them here, on every trial.
    """
    import keras
    from optuna_integration import KerasPruningCallback

    if _OPTUNA_EPOCH_LOG is None:
        raise RuntimeError("the child sets the epoch log first")
    if _OPTUNA_DATA is not None:
        data = _OPTUNA_DATA
    elif _OPTUNA_ARCHIVE is not None:
        data = load_notebook_data(_OPTUNA_ARCHIVE, with_test=False)
    else:
        raise RuntimeError("the child sets the data or the archive first")
    keras.backend.clear_session()
    config = sample_space(OptunaHp(trial))
    model = build_model(config)
    history = model.fit(
        data["x_partial"],
        data["y_partial"],
        batch_size=config["batch_size"],
        epochs=MAX_EPOCHS,
        validation_data=(data["x_val"], data["y_val"]),
        callbacks=[
            _epoch_logger(_OPTUNA_EPOCH_LOG, str(trial.number)),
            _early_stopping(),
            KerasPruningCallback(trial, "val_accuracy"),
        ],
        verbose=0,
    )
    return float(max(history.history["val_accuracy"]))


def child_optuna(workdir: Path, prepared: Path, deadline: float, seed: int = SEED) -> None:
    """The competent plain script: prepared data loaded once, the study's sampler and pruner, up to ``deadline``."""
    global _OPTUNA_DATA, _OPTUNA_EPOCH_LOG
    import keras
    import optuna

    keras.utils.set_random_seed(seed)
    _OPTUNA_DATA, _OPTUNA_EPOCH_LOG = load_prepared(prepared), workdir / EPOCH_LOG
    study = optuna.create_study(
        study_name="peers-optuna",
        storage=f"sqlite:///{workdir / 'optuna.db'}",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(n_startup_trials=10, multivariate=True, seed=seed),
        # The study's pruner (its MedianPruner(n_startup_trials=5, n_warmup_steps=1) before 2026-12-07 17:40).
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=20, reduction_factor=3),
    )
    study.optimize(objective, timeout=max(deadline - time.time(), 0.001))


def child_optuna_notebook(workdir: Path, archive: Path, deadline: float, seed: int = SEED) -> None:
    """The notebook-way script: the objective reads and vectorizes the archive on every trial."""
    global _OPTUNA_ARCHIVE, _OPTUNA_EPOCH_LOG
    import keras
    import optuna

    keras.utils.set_random_seed(seed)
    _OPTUNA_ARCHIVE, _OPTUNA_EPOCH_LOG = archive, workdir / EPOCH_LOG
    study = optuna.create_study(
        study_name="peers-optuna",
        storage=f"sqlite:///{workdir / 'optuna.db'}",
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3),
    )
    study.optimize(objective, timeout=max(deadline - time.time(), 0.001))


def child_holdout(archive: Path, values: dict[str, Any], epochs: int) -> None:
    """Retrain ``values`` on all 25,000 training reviews for ``epochs``; print test accuracy as JSON."""
    import keras

    keras.utils.set_random_seed(SEED)
    data = load_notebook_data(archive, with_test=True)
    config = sample_space(FixedHp(values))
    model = build_model(config)
    start = time.perf_counter()
    model.fit(data["x_train"], data["y_train"], batch_size=config["batch_size"], epochs=epochs, verbose=0)
    result = model.evaluate(data["x_test"], data["y_test"], batch_size=1024, verbose=0, return_dict=True)
    line = {"accuracy": float(result["accuracy"]), "loss": float(result["loss"]), "epochs": epochs}
    print(json.dumps(dict(line, train_time_s=round(time.perf_counter() - start, 1))))


# --------------------------------------------------------------------------- running and reading the arms


def _run_budgeted(
    command: list[str],
    *,
    log: Path,
    env: dict[str, str],
    start: float,
    deadline: float | None,
    grace: float,
    in_flight: Callable[[float], bool] | None = None,
) -> dict[str, Any]:
    """Run ``command`` from the repository root, stdout and stderr to ``log``, and stop it after the deadline.

    Args:
        command: The arm's command line.
        log: Where its stdout and stderr go.
        env: Its environment.
        start: When the arm's clock started (epoch seconds, taken just before this call).
        deadline: No trial may start after this time (epoch seconds); ``None``: run to the end.
        grace: Seconds after ``deadline`` after which the process group is killed regardless.
        in_flight: Called with ``deadline`` every second once it has passed: whether a trial that
            started before it is still running; when it says no, the process group is killed. Without
            it the command is expected to stop by itself.

    Returns:
        ``start``, ``elapsed_s``, ``stopped`` (``"exited"``, ``"killed after its last trial"`` or
        ``"killed at the hard limit"``) and ``returncode`` (``None`` when killed).
    """
    print(f"  log: {log}", file=sys.stderr, flush=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out, start_new_session=True)
        stopped = "exited"
        if deadline is None:
            proc.wait()
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(deadline - time.time(), 0.0))
            while proc.poll() is None:
                if time.time() > deadline + grace:
                    stopped = "killed at the hard limit"
                    break
                if in_flight is not None and not in_flight(deadline):
                    stopped = "killed after its last trial"
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1.0)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the arm's own process group, started above
                proc.wait()
            else:
                stopped = "exited"
    returncode = None if stopped != "exited" else proc.returncode
    return {"start": start, "elapsed_s": round(time.time() - start, 1), "stopped": stopped, "returncode": returncode}


def _run_json(command: list[str], *, log: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``command`` to the end, stderr to ``log``; the last stdout line parsed as JSON."""
    print(f"  log: {log}", file=sys.stderr, flush=True)
    with log.open("ab") as err:
        proc = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, check=False)
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"exit status {proc.returncode}; see {log}")
    return json.loads(lines[-1])


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _time_to_target(finished: list[tuple[float, float | None]], start: float) -> float | None:
    """Seconds from ``start`` to the first trial end (epoch seconds) whose best value reached :data:`TARGET`."""
    reached = time_to(_curve(finished, start), TARGET)
    return None if reached is None else round(reached, 1)


def _curve(finished: list[tuple[float, float | None]], start: float) -> list[tuple[float, float]]:
    """The finished trials as ``(seconds from start, best validation accuracy)``, in the order they ended."""
    return sorted((round(t - start, 2), float(value)) for t, value in finished if value is not None)


def best_by(curve: list[tuple[float, float]], seconds: float, *, maximize: bool = True) -> float | None:
    """The best value of the trials that ended within ``seconds`` (``None``: none had).

    ``curve`` holds ``(seconds, value)`` per finished trial, or the best value so far: either gives the same.

    Examples:
        >>> best_by([(20.0, 0.85), (50.0, 0.88), (70.0, 0.87)], 60)
        0.88
        >>> best_by([(20.0, 2.9), (50.0, 2.55)], 30, maximize=False)
        2.9
        >>> best_by([(20.0, 0.85)], 10) is None
        True
    """
    values = [value for t, value in curve if t <= seconds]
    if not values:
        return None
    return max(values) if maximize else min(values)


def time_to(curve: list[tuple[float, float]], target: float, *, maximize: bool = True) -> float | None:
    """Seconds until a finished trial first reached ``target`` (``None``: never).

    Examples:
        >>> time_to([(20.0, 0.85), (50.0, 0.889), (70.0, 0.892)], 0.889)
        50.0
        >>> time_to([(20.0, 2.9), (50.0, 2.55)], 2.6, maximize=False)
        50.0
        >>> time_to([(20.0, 0.85)], 0.889) is None
        True
    """
    # Validation metrics are float32: 0.975 is stored as 0.97499998.
    reached = (lambda value: value >= target - 1e-6) if maximize else (lambda value: value <= target + 1e-6)
    return next((t for t, value in curve if reached(value)), None)


def _best_epochs(epoch_lines: list[dict[str, Any]], trial: str) -> int:
    """Epoch count of a trial's best epoch (first maximum of ``val_accuracy``, as EarlyStopping keeps)."""
    epochs = [line for line in epoch_lines if line["trial"] == trial and line["val_accuracy"] is not None]
    best = max(epochs, key=lambda line: (line["val_accuracy"], -line["epoch"]))
    return int(best["epoch"]) + 1


def _holdout_into(
    result: dict[str, Any], args: argparse.Namespace, log: Path, values: dict[str, Any], epochs: int
) -> None:
    """Retrain a peer's best configuration in a child and test it once; the accuracy goes into ``result``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "holdout", "--archive", str(args.archive)]
    command += ["--child-params", json.dumps(values), "--child-epochs", str(epochs)]
    try:
        holdout = _run_json(command, log=log, env=dict(os.environ))
        result["holdout_accuracy"] = holdout["accuracy"]
        result["holdout_epochs"] = holdout["epochs"]
    except (RuntimeError, json.JSONDecodeError, KeyError) as exc:
        result["error"] = f"holdout failed: {exc}"


def _started_before(trial: Any, deadline: float) -> bool:
    return trial.datetime_start is not None and trial.datetime_start.timestamp() <= deadline


def _study_trials(storage: str, name: str, deadline: float) -> dict[str, Any]:
    """An Optuna study's trials that started before ``deadline``: finished ones, epochs, best.

    Returns:
        ``study``, ``finished`` (``(end, best value)`` per complete or pruned trial, the end in epoch
        seconds; a pruned trial's best intermediate value), ``started`` (the trials) and ``best``
        (the best complete trial or ``None``).
    """
    import optuna

    study = optuna.load_study(study_name=name, storage=storage)
    state = optuna.trial.TrialState
    started = [t for t in study.get_trials(deepcopy=False) if _started_before(t, deadline)]
    finished: list[tuple[float, float | None]] = []
    best: optuna.trial.FrozenTrial | None = None
    for trial in started:
        if trial.state not in (state.COMPLETE, state.PRUNED) or trial.datetime_complete is None:
            continue
        if trial.state == state.COMPLETE:
            value = trial.value
            if value is not None and (best is None or value > (best.value or -math.inf)):
                best = trial
        else:
            value = max(trial.intermediate_values.values(), default=None)
        finished.append((trial.datetime_complete.timestamp(), value))  # naive local time, as Optuna writes it
    return {"study": study, "finished": finished, "started": started, "best": best}


class _RunningBefore:
    """Whether a study has a running trial that started before a deadline (polled while the framework runs)."""

    def __init__(self, storage: str, name: str) -> None:
        self.storage, self.name = storage, name
        self.study: Any = None

    def __call__(self, deadline: float) -> bool:
        import optuna

        try:
            if self.study is None:
                self.study = optuna.load_study(study_name=self.name, storage=self.storage)
            trials = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        except Exception:  # no study yet: no trial started before the deadline
            return False
        return any(_started_before(t, deadline) for t in trials)


def _framework_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if "SEARCH_DATA_DIR" not in env:
        env["SEARCH_DATA_DIR"] = str(args.archive.parent)
    return env


def _framework_run(
    args: argparse.Namespace,
    workdir: Path,
    *,
    study: str,
    budget: float | None,
    trials: int,
    tag: str,
    ensemble: bool = False,
) -> dict[str, Any]:
    """One framework run in a fresh storage; its trials, epochs, best value and holdout accuracy (and ensemble's)."""
    import optuna

    storage = f"sqlite:///{workdir / f'{tag}.db'}"
    env = _framework_env(args)
    command = [sys.executable, "-m", "search", "run", study, "--storage", storage, "--trials", str(trials)]
    if budget is not None:
        command += ["--timeout", str(budget)]
    if args.framework_workers is not None:
        command += ["--workers", str(args.framework_workers)]
    command += ["--no-progress", "--json"]
    for item in args.framework_set:
        command += ["--set", item]
    if args.seed != SEED:  # the study's own seed otherwise: the run as a user types it
        command += ["--set", f"seed={args.seed}"]
    start = time.time()
    deadline = None if budget is None else start + budget
    run = _run_budgeted(
        command,
        log=workdir / f"{tag}.log",
        env=env,
        start=start,
        deadline=deadline,
        grace=args.grace,
        in_flight=_RunningBefore(storage, STUDY),
    )
    try:
        read = _study_trials(storage, STUDY, math.inf if deadline is None else deadline)
    except (KeyError, optuna.exceptions.OptunaError, ValueError) as exc:
        return {**run, "error": f"no study: {exc}; see {workdir / f'{tag}.log'}"}
    best = read["best"]
    result = {
        **run,
        "trials_finished": len(read["finished"]),
        "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in read["started"]),
        "epochs_trained": sum(int(t.user_attrs.get("epochs_trained", 0)) for t in read["started"]),
        "best_val_accuracy": best.value if best else None,
        "time_to_target_s": _time_to_target(read["finished"], start),
        "curve": _curve(read["finished"], start),
        "best_params": best.params if best else None,
        "best_trial": best.number if best else None,
    }
    if best is not None and args.holdout:
        holdout_cmd = [sys.executable, "-m", "search", "holdout", STUDY, "--storage", storage, "--json"]
        try:
            holdout = _run_json(holdout_cmd, log=workdir / f"{tag}-holdout.log", env=env)
            result["holdout_accuracy"] = holdout["accuracy"]
            result["holdout_epochs"] = holdout.get("epochs")
            if ensemble:
                average = _run_json(
                    [*holdout_cmd, "--ensemble", str(ENSEMBLE)], log=workdir / f"{tag}-ensemble.log", env=env
                )
                result["ensemble_accuracy"] = average["accuracy"]
        except (RuntimeError, json.JSONDecodeError, KeyError) as exc:
            result["error"] = f"holdout failed: {exc}"
    return result


def arm_framework(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """``python -m search run imdb-bow --timeout B --trials 10000`` (workers as ``run`` picks them), stopped after
    its last trial that started in time."""
    return _framework_run(args, workdir, study=STUDY, budget=args.budget, trials=10_000, tag="framework", ensemble=True)


def _run_child_arm(
    args: argparse.Namespace, workdir: Path, arm: str
) -> tuple[Path, Path, float, float, dict[str, Any]]:
    """Run a peer's child process (``--child ARM``) under the budget: its folder, log, start, deadline and run facts."""
    folder = workdir / arm
    folder.mkdir(parents=True)
    start = time.time()
    deadline = start + args.budget
    command = [sys.executable, str(Path(__file__).resolve()), "--child", arm, "--child-dir", str(folder)]
    command += ["--archive", str(args.archive), "--child-deadline", repr(deadline)]
    command += ["--child-prepared", str(args.prepared), "--child-seed", str(args.seed)]
    log = workdir / f"{arm}.log"
    run = _run_budgeted(command, log=log, env=dict(os.environ), start=start, deadline=deadline, grace=args.grace)
    return folder, log, start, deadline, run


def arm_kerastuner(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """KerasTuner Hyperband in a child that creates no trial after the deadline; trials read from its folder."""
    folder, log, start, _, run = _run_child_arm(args, workdir, "kerastuner")
    ends = {line["trial"]: line["t"] for line in _read_lines(folder / TRIAL_LOG)}
    completed: dict[str, dict[str, Any]] = {}
    for path in sorted((folder / "hb").glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        if state.get("status") == "COMPLETED" and state["trial_id"] in ends:
            completed[state["trial_id"]] = state
    epoch_lines = _read_lines(folder / EPOCH_LOG)
    scored = [(state["score"], tid) for tid, state in completed.items() if state.get("score") is not None]
    result: dict[str, Any] = {
        **run,
        "trials_finished": len(completed),
        "epochs_trained": len(epoch_lines),
        "best_val_accuracy": max(scored)[0] if scored else None,
        "time_to_target_s": _time_to_target([(ends[tid], s.get("score")) for tid, s in completed.items()], start),
        "curve": _curve([(ends[tid], s.get("score")) for tid, s in completed.items()], start),
    }
    if not (folder / "hb").is_dir():
        result["error"] = f"no tuner folder; see {log}"
    if scored:
        best_id = max(scored)[1]
        values = completed[best_id]["hyperparameters"]["values"]
        values = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        result.update(best_params=values, best_trial=best_id)
    if scored and args.holdout:
        _holdout_into(result, args, workdir / "kerastuner-holdout.log", values, _best_epochs(epoch_lines, best_id))
    return result


def arm_optuna(args: argparse.Namespace, workdir: Path, arm: str = "optuna") -> dict[str, Any]:
    """A plain Optuna script in a child (``study.optimize(timeout=...)`` up to the deadline)."""
    folder, log, start, deadline, run = _run_child_arm(args, workdir, arm)
    epoch_lines = _read_lines(folder / EPOCH_LOG)
    try:
        read = _study_trials(f"sqlite:///{folder / 'optuna.db'}", "peers-optuna", deadline)
    except Exception as exc:  # no study: the child died before creating it
        return {**run, "epochs_trained": len(epoch_lines), "error": f"no study: {exc}; see {log}"}
    started = {str(t.number) for t in read["started"]}
    epoch_lines = [line for line in epoch_lines if line["trial"] in started]
    best = read["best"]
    result: dict[str, Any] = {
        **run,
        "trials_finished": len(read["finished"]),
        "pruned": sum(t.state.name == "PRUNED" for t in read["started"]),
        "epochs_trained": len(epoch_lines),
        "best_val_accuracy": best.value if best else None,
        "time_to_target_s": _time_to_target(read["finished"], start),
        "curve": _curve(read["finished"], start),
    }
    if best is not None:
        result.update(best_params=best.params, best_trial=best.number)
    if best is not None and args.holdout:
        epochs = _best_epochs(epoch_lines, str(best.number))
        _holdout_into(result, args, workdir / f"{arm}-holdout.log", best.params, epochs)
    return result


def arm_optuna_notebook(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The notebook-way plain script (re-reads the data every trial), a weaker variant."""
    return arm_optuna(args, workdir, "optuna-notebook")


# --------------------------------------------------------------------------- the pruning comparison


def study_with(study: str, path: Path, **tables: Any) -> Path:
    """``studies/STUDY.toml`` with the given top-level keys or tables replaced whole, written to ``path``.

    ``--set pruner.name="NopPruner"`` is not enough to replace a pruner: ``--set`` merges into the
    ``[pruner]`` table, so the shipped pruner's options stay and ``NopPruner()`` rejects them. A copy
    of the definition (everything else the same) is run instead.
    """
    import tomli_w

    definition = tomllib.loads((REPO / "studies" / f"{study}.toml").read_text())
    path.write_text(tomli_w.dumps(definition | tables))
    return path


def run_pruning(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The framework twice with ``--trials N``: as defined, then without pruning."""
    rows = []
    nop_study = study_with(STUDY, workdir / f"{STUDY}-nop-pruner.toml", pruner={"name": "NopPruner"})
    variants = [("as defined", STUDY, "pruned"), ("NopPruner", str(nop_study), "nop")]
    for label, study, tag in variants:
        print(f"framework, {label}: {args.trials} trials", file=sys.stderr, flush=True)
        row = _framework_run(args, workdir, study=study, budget=None, trials=args.trials, tag=tag)
        rows.append({"variant": label, **row})
    pruned, nop = rows[0].get("epochs_trained"), rows[1].get("epochs_trained")
    saved = round(100 * (1 - pruned / nop), 1) if pruned is not None and nop else None
    return {"mode": "pruning", "trials": args.trials, "epochs_saved_percent": saved, "rows": rows}


# --------------------------------------------------------------------------- output


def _fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def comparison_table(budget: float, results: list[dict[str, Any]]) -> str:
    """The markdown table of the budget comparison."""
    lines = [
        f"| arm ({budget:g} s budget each) | trials finished | epochs trained | trials per hour "
        f"| best validation accuracy | holdout accuracy of its best "
        f"| holdout accuracy, ensemble of its {ENSEMBLE} best | time to {TARGET} validation accuracy | wall time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results:
        trials, elapsed = row.get("trials_finished"), row.get("elapsed_s")
        per_hour = trials * 3600 / elapsed if trials is not None and elapsed else None
        reached = row.get("time_to_target_s")
        lines.append(
            f"| {LABELS[row['arm']]} | {_fmt(trials)} | {_fmt(row.get('epochs_trained'))} | {_fmt(per_hour, '.1f')} "
            f"| {_fmt(row.get('best_val_accuracy'), '.4f')} | {_fmt(row.get('holdout_accuracy'), '.4f')} "
            f"| {_fmt(row.get('ensemble_accuracy'), '.4f')} "
            f"| {'not reached' if reached is None else f'{reached:.0f} s'} | {_fmt(elapsed, '.0f')} s |"
        )
    finished = {row["arm"]: row.get("trials_finished") for row in results}
    ours = finished.get("framework")
    ratios = [
        f"{ours / theirs:.1f}x the trials of the {SHORT[arm]}"
        for arm, theirs in finished.items()
        if arm != "framework" and ours is not None and theirs
    ]
    if ratios:
        lines += ["", "The framework finished " + "; ".join(ratios) + "."]
    return "\n".join(lines)


def _spread(values: list[float | None], *, missing: float, spec: str, unit: str = "") -> str:
    """``median (min-max)`` of per-seed values, ``None`` standing for ``missing`` (shown as "not reached" or "-")."""
    if not values:
        return "-"
    filled = sorted(missing if v is None else v for v in values)

    def show(value: float) -> str:
        if value == missing:
            return "not reached" if missing == math.inf else "-"
        return f"{value:{spec}}{unit}"

    median = float(np.median(filled)) if missing not in filled else filled[len(filled) // 2]
    if filled[0] == filled[-1]:
        return show(median)
    return f"{show(median)} ({show(filled[0])} to {show(filled[-1])})"


def quality_table(budget: float, runs: list[dict[str, Any]]) -> str:
    """Time to quality over seeds: best validation accuracy by each checkpoint and time to each target, per arm.

    Each cell is the median over the arm's seeds, with the lowest and highest in brackets; a seed that never
    reached a target counts as slower than any that did.
    """
    checkpoints = [t for t in CHECKPOINTS if t <= budget]
    head = " | ".join(f"best by {t} s" for t in checkpoints)
    goals = " | ".join(f"time to {target}" for target in TARGETS)
    lines = [
        f"| arm ({budget:g} s each) | seeds | trials finished | {head} | {goals} | holdout of its best |",
        "| --- | ---: | ---: |" + " ---: |" * (len(checkpoints) + len(TARGETS) + 1),
    ]
    for arm in dict.fromkeys(run["arm"] for run in runs):
        mine = [run for run in runs if run["arm"] == arm]
        curves = [[tuple(point) for point in run.get("curve", [])] for run in mine]
        cells = [str(len(mine)), _spread([run.get("trials_finished") for run in mine], missing=-math.inf, spec=".0f")]
        cells += [_spread([best_by(c, t) for c in curves], missing=-math.inf, spec=".4f") for t in checkpoints]
        cells += [
            _spread([time_to(c, target) for c in curves], missing=math.inf, spec=".0f", unit=" s") for target in TARGETS
        ]
        cells.append(_spread([run.get("holdout_accuracy") for run in mine], missing=-math.inf, spec=".4f"))
        lines.append(f"| {LABELS[arm]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quality_plot(runs: list[dict[str, Any]], path: Path, *, budget: float) -> None:
    """Best validation accuracy so far against seconds from each arm's start, one line per arm and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    colours = dict(zip(ARMS, ("tab:blue", "tab:orange", "tab:green", "tab:grey"), strict=True))
    labelled: set[str] = set()
    for run in runs:
        curve = [tuple(point) for point in run.get("curve", [])]
        if not curve:
            continue
        seconds = [t for t, _ in curve]
        best = np.maximum.accumulate([value for _, value in curve])
        label = None if run["arm"] in labelled else SHORT.get(run["arm"], "this framework")
        labelled.add(run["arm"])
        axes.step(
            [*seconds, budget], [*best, best[-1]], where="post", color=colours[run["arm"]], alpha=0.8, label=label
        )
    for target in TARGETS:
        axes.axhline(target, color="black", linewidth=0.6, linestyle=":")
    axes.set(xlabel="seconds from the arm's start", ylabel="best validation accuracy so far", ylim=(0.85, 0.9))
    axes.set_xlim(0, budget)
    axes.legend(loc="lower right")
    axes.set_title("imdb-bow: time to quality, one line per seed")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def pruning_table(report: dict[str, Any]) -> str:
    """The markdown table of the pruning comparison."""
    lines = [
        f"| framework, {report['trials']} trials | trials finished (pruned) | epochs trained | wall time "
        "| best validation accuracy | holdout accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['variant']} | {_fmt(row.get('trials_finished'))} ({_fmt(row.get('pruned'))}) "
            f"| {_fmt(row.get('epochs_trained'))} | {_fmt(row.get('elapsed_s'), '.0f')} s "
            f"| {_fmt(row.get('best_val_accuracy'), '.4f')} | {_fmt(row.get('holdout_accuracy'), '.4f')} |"
        )
    lines.append("")
    lines.append(f"Epochs saved by pruning: {_fmt(report['epochs_saved_percent'], '.1f')} %")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def _default_archive() -> Path:
    folder = os.environ.get("SEARCH_DATA_DIR")
    base = Path(folder).expanduser() if folder else REPO.parent / "shared" / "data"
    return base / "aclImdb_v1.tar.gz"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="wall-clock budget of each arm")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)} (default all)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--framework-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a --set override for the framework's runs (value read as TOML; repeatable)",
    )
    parser.add_argument(
        "--framework-workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes of the framework's runs (run --workers; default: what run picks, one per core)",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, metavar="N", help="run every arm with N seeds (42, 43, ...): time to quality"
    )
    parser.add_argument("--no-holdout", dest="holdout", action="store_false", help="skip the holdouts of the best")
    parser.add_argument("--plot", type=Path, metavar="FILE", help="with --seeds: the best-so-far curves as a PNG")
    parser.add_argument("--pruning", action="store_true", help="compare the framework with and without pruning")
    parser.add_argument("--trials", type=int, default=20, metavar="N", help="trials of each --pruning run (20)")
    parser.add_argument("--archive", type=Path, default=None, help="aclImdb_v1.tar.gz (default: in SEARCH_DATA_DIR)")
    parser.add_argument("--workdir", type=Path, help="folder for storages and logs (default: a new temporary one)")
    parser.add_argument(
        "--grace",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="kill an arm this long after its deadline even if its last trial still runs (1800)",
    )
    parser.add_argument(
        "--child", choices=("kerastuner", "optuna", "optuna-notebook", "holdout"), help=argparse.SUPPRESS
    )
    parser.add_argument("--child-prepared", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-params", help=argparse.SUPPRESS)
    parser.add_argument("--child-epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--child-seed", type=int, default=SEED, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison (or, with ``--pruning``, the pruning comparison) and print a markdown table."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.archive = (args.archive or _default_archive()).expanduser().resolve()
    if args.child == "kerastuner":
        child_kerastuner(args.child_dir, args.child_prepared, args.child_deadline, args.child_seed)
        return 0
    if args.child == "optuna":
        child_optuna(args.child_dir, args.child_prepared, args.child_deadline, args.child_seed)
        return 0
    if args.child == "optuna-notebook":
        child_optuna_notebook(args.child_dir, args.archive, args.child_deadline, args.child_seed)
        return 0
    if args.child == "holdout":
        child_holdout(args.archive, json.loads(args.child_params), args.child_epochs)
        return 0
    if not args.archive.is_file():
        parser.error(f"no IMDB archive at {args.archive} (set SEARCH_DATA_DIR or --archive)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="peers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"work folder (storages, logs): {workdir}", file=sys.stderr, flush=True)
    args.seed, args.prepared = SEED, workdir / PREPARED
    if args.pruning:
        if args.trials < 1:
            parser.error("--trials must be at least 1")
        report = run_pruning(args, workdir)
        table = pruning_table(report)
    else:
        if args.budget is None or args.budget <= 0:
            parser.error("--budget SECONDS is required (or --pruning)")
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
        unknown = sorted(set(arms) - set(ARMS))
        if unknown or not arms:
            parser.error(f"unknown arm(s) {', '.join(unknown)} (known: {', '.join(ARMS)})")
        runners: dict[str, Callable[[argparse.Namespace, Path], dict[str, Any]]] = {
            "framework": arm_framework,
            "kerastuner": arm_kerastuner,
            "optuna": arm_optuna,
            "optuna-notebook": arm_optuna_notebook,
        }
        prepared = (args.prepared, args.prepared.with_suffix(".labels.npy"))
        if {"optuna", "kerastuner"} & set(arms) and not all(path.exists() for path in prepared):
            print("preparing the competent arms' data (not counted)", file=sys.stderr, flush=True)
            prepare_data(args.archive, args.prepared)
        if args.seeds < 1:
            parser.error("--seeds must be at least 1")
        results = []
        for seed in range(SEED, SEED + args.seeds):  # the arms take turns within a seed: drift hits all alike
            args.seed = seed
            folder = workdir if args.seeds == 1 else workdir / f"seed-{seed}"
            folder.mkdir(exist_ok=True)
            for arm in arms:
                print(f"arm {arm}, seed {seed}: {args.budget:g} s", file=sys.stderr, flush=True)
                results.append({"arm": arm, "seed": seed, **runners[arm](args, folder)})
                if "error" in results[-1]:
                    print(f"  {arm}: {results[-1]['error']}", file=sys.stderr, flush=True)
        report = {
            "mode": "budget",
            "budget_s": args.budget,
            "target": TARGET,
            "cpu_count": os.cpu_count(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "framework_set": args.framework_set,
            "search_cache_dir": os.environ.get("SEARCH_CACHE_DIR"),
            "results": results,
        }
        table = comparison_table(args.budget, results) if args.seeds == 1 else quality_table(args.budget, results)
        if args.plot is not None:
            quality_plot(results, args.plot, budget=args.budget)
    report["workdir"] = str(workdir)
    print(table)
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
