"""One honest evaluation: retrain the best (or a chosen) configuration on all training data, test once."""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search import models
from search.data import HoldoutData, Task, load_holdout_data, rows
from search.engine import (
    OpenedStudy,
    StudyConfig,
    TrialOutcome,
    chosen_trial,
    closes_storages,
    is_feasible,
    open_existing,
    ranked_trials,
)
from search.errors import InputError
from search.models import (
    epoch_recorder,
    evaluate_and_predict,
    free_memory,
    set_seed,
    train,
    use_backend,
)
from search.results._notes import publish_holdout_note, upload_confusion_matrix
from search.results._predictor import PREPROCESSING_SUFFIX, Predictor
from search.results._stored import (
    HoldoutResult,
    holdout_part,
    model_name,
    objective_names,
    read_holdout,
    write_holdout,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["MAX_ENSEMBLE", "MAX_REPEATS", "evaluate_holdout", "holdout_metrics"]

MAX_REPEATS = 100
MAX_ENSEMBLE = 20
REPEAT_SEED_STEP = 1_000_003  # repeat r trains with the trial's seed + r * this: seeds no trial of a study uses
SCALAR_METRICS = ("accuracy", "precision", "recall", "f1", "rmse", "mae", "r2", "loss")


def holdout_metrics(task: Task, y_true: np.ndarray, y_score: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Test-set metrics of a task from the model's raw outputs.

    Classification: ``accuracy``, ``precision``, ``recall``, ``f1`` (of the
    positive class for binary tasks, macro-averaged otherwise), ``per_class``
    and ``confusion_matrix`` (rows: true class). Regression: ``rmse``, ``mae``, ``r2``.

    Examples:
        >>> from search import Task
        >>> scores = np.array([[0.2], [0.9], [0.4]])
        >>> holdout_metrics(Task("binary"), np.array([0, 1, 1]), scores, ["neg", "pos"])["accuracy"]
        0.6666666666666666
    """
    from sklearn import metrics

    if task.kind == "regression":
        pred = np.asarray(y_score, dtype=np.float64).reshape(-1)
        return {
            "rmse": math.sqrt(metrics.mean_squared_error(y_true, pred)),
            "mae": float(metrics.mean_absolute_error(y_true, pred)),
            "r2": float(metrics.r2_score(y_true, pred)),
        }
    score = np.asarray(y_score)
    pred = (score.reshape(-1) > 0.5).astype(int) if task.kind == "binary" else score.argmax(axis=1)
    true = np.asarray(y_true).astype(int).reshape(-1)
    labels = list(range(task.output_units if task.kind == "multiclass" else 2))
    names = class_names or [str(i) for i in labels]
    average = "binary" if task.kind == "binary" else "macro"
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        true, pred, labels=labels, average=average, zero_division=0
    )
    report = metrics.classification_report(
        true, pred, labels=labels, target_names=names, output_dict=True, zero_division=0
    )
    return {
        "accuracy": float(metrics.accuracy_score(true, pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "per_class": {name: {k: float(v) for k, v in report[name].items()} for name in names},
        "confusion_matrix": metrics.confusion_matrix(true, pred, labels=labels).tolist(),
        "class_names": names,
    }


@closes_storages
def evaluate_holdout(
    name: str,
    *,
    storage: str | None = None,
    trial: int | None = None,
    repeats: int = 1,
    ensemble: int = 1,
    force: bool = False,
    show_progress: bool = True,
    allow_modules: Sequence[str] = (),
) -> dict[str, Any]:
    """Retrain the best trial's (or a chosen trial's) configuration on all training data and test it once.

    The model trains for the trial's best epoch count (early stopping's
    choice on the validation split); of a cross-validated study (``cv > 1``) it
    is the average of one model per fold of the search, each trained as in the
    trial (the fold's rows, the trial's seed, early stopping on the fold's
    validation rows), their best epoch counts in ``fold_epochs``. It is evaluated once on the test split, saved
    as ``.keras`` and attached to the study as an Optuna artifact. Data read from
    raw rows (CSV, Iris, Auto MPG) is preprocessed by a preprocessor fitted on all
    training rows; it is saved beside the model as ``<study>.preprocessing.joblib``
    (also an artifact), and :func:`search.load_predictor` reloads both. The metrics
    are stored on the study as the ``holdout`` user attribute, and a second call
    returns them without retraining unless ``force`` is set. The study's
    optuna-dashboard note gets the report (metrics, per-class table, confusion
    matrix as a table and as a PNG artifact drawn with matplotlib).

    Without ``trial``, the trial is :func:`search.engine.chosen_trial`'s: the
    best feasible one (of a multi-objective study, the Pareto-front trial best
    on the first objective); a trial that breaks a constraint is never chosen.
    With ``trial=N``, that complete trial (any one, e.g. a smaller model of the
    Pareto front): its result is stored as ``holdout:N`` and written into the
    trial's dashboard note, its model as ``models/<study>.trial-N.keras``
    (``load_predictor(name, trial=N)`` serves it), and the study's own
    ``holdout`` is left as it was.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.
        trial: Number of a complete trial to evaluate; default: the best.
        repeats: Retrain and test the configuration this many times, each with
            its own seed (initialisation and batch order): the first seed is the
            trial's own, the model kept is the first one's, and ``repeats`` in the
            result holds each metric's values, mean and standard deviation
            (``ddof=1``). 1 to :data:`MAX_REPEATS`.
        ensemble: Retrain the ``ensemble`` best distinct configurations (complete,
            feasible trials by the first objective; each with its own seed and best
            epoch count) and test the average of their predicted probabilities (or
            values, for regression) once. The members must read the same model
            inputs (one input representation). The ensemble is saved as one
            ``.keras`` model, ``models/<study>.ensemble-K.keras``, that
            :func:`search.load_predictor` serves (``ensemble=K``); its result is
            stored as ``holdout:ensemble-K``, beside the single model's, with each
            member's own test metrics under ``ensemble``. 1 to :data:`MAX_ENSEMBLE`.
        force: Recompute even if a stored result exists.
        show_progress: Show the retraining epochs on stderr.
        allow_modules: As for :func:`search.join_study`: what of the stored
            definition this process may import or unpickle beyond the shipped spaces.

    Returns:
        The metrics (see :func:`holdout_metrics`) plus ``task``, ``metric``, ``loss``,
        ``trial``, ``epochs``, ``values`` (the trial's objective values by name),
        ``feasible``, ``chosen`` (whether ``trial`` named it), ``repeats`` (with ``repeats > 1``),
        ``model_path``, ``artifact_id``, ``computed_at``; with
        preprocessing, ``preprocessing_path``, ``preprocessing_sha256`` and ``preprocessing_artifact_id``; for
        classification, ``confusion_matrix_png`` and ``confusion_matrix_artifact_id``.

    Raises:
        InputError: No such study, no completed (feasible) trial yet, a ``trial``
            that is not a complete trial of the study, or a database or artifact
            folder that cannot be written (checked before training).

    Examples:
        >>> import tempfile
        >>> from search import run_study
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> _ = run_study("iris", n_trials=1, storage=url, show_progress=False, overrides={"max_epochs": 2})
        >>> result = evaluate_holdout("iris", storage=url, show_progress=False)
        >>> from pathlib import Path
        >>> from search.data import name_key  # files are named by a key of the study name
        >>> result["n_test"], 0.0 <= result["accuracy"] <= 1.0
        (30, True)
        >>> Path(result["model_path"]).name == name_key("iris") + ".keras"
        True
        >>> evaluate_holdout("iris", storage=url)["cached"]  # stored: no retraining
        True
        >>> evaluate_holdout("iris", storage=url, trial=7)
        Traceback (most recent call last):
        ...
        search.errors.InputError: study 'iris' has no trial 7 (its trials are numbered 0 to 0)
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise InputError(f"repeats must be a whole number from 1 to {MAX_REPEATS}, got {repeats!r}")
    if isinstance(ensemble, bool) or not isinstance(ensemble, int) or not 1 <= ensemble <= MAX_ENSEMBLE:
        raise InputError(f"ensemble must be a whole number from 1 to {MAX_ENSEMBLE}, got {ensemble!r}")
    if ensemble > 1 and (trial is not None or repeats > 1):
        raise InputError("an ensemble is of the best trials, retrained once each: without --trial or --repeats")
    opened = open_existing(name, storage=storage, allow_modules=allow_modules)
    study = opened.study
    members = _ensemble_members(study, ensemble) if ensemble > 1 else [_trial_to_evaluate(study, trial)]
    outcomes = [_recorded(member, study.study_name) for member in members]
    config = opened.config
    opened.check_trusted()
    best = members[0]
    stored = read_holdout(study, trial, ensemble=ensemble)
    if stored is not None and not force and (repeats == 1 or (stored.repeats and stored.repeats.n == repeats)):
        return stored.model_copy(update={"cached": True}).returned()
    key = model_name(study.study_name, trial, ensemble=ensemble)
    opened.store.check_writable((f"models/{key}.keras", f"models/{key}{PREPROCESSING_SUFFIX}"))  # before training

    use_backend(config.backend)  # the trials' backend where Keras is not loaded yet; the saved model is portable
    for line in opened.device_lines("the holdout trains"):
        print(line, file=sys.stderr)
    data = load_holdout_data(opened.data_settings(), seed=config.seed, cv=config.cv)
    model_config, epochs = outcomes[0]
    space = opened.space
    start = time.perf_counter()
    x_train, x_test = space.features(model_config, data.x_train, data.x_test, fit_labels=data.y_train)
    if ensemble > 1:
        model, result = _ensemble(
            space,
            members,
            outcomes,
            data,
            x_train,
            x_test,
            config=config,
            progress=show_progress,
            callbacks=opened.fresh_callbacks,
        )
    else:
        # The first seed is the trial's own initialisation seed; the others are far from any trial's.
        seeds = [config.seed + best.number + REPEAT_SEED_STEP * r for r in range(repeats)]
        runs = []
        for r, seed in enumerate(seeds):
            of = f" {r + 1}/{repeats}" if repeats > 1 else ""
            fitted, run = _train_and_test(
                space,
                model_config,
                data,
                x_train,
                x_test,
                epochs=epochs,
                seed=seed,
                progress=show_progress,
                of=of,
                config=config,
                callbacks=opened.fresh_callbacks,
            )
            if r == 0:
                model, result = fitted, run
            else:
                del fitted
                free_memory()
            runs.append(run)
        if repeats > 1:
            result["repeats"] = _spread(runs, seeds)
    result.update(
        task=data.task.kind,
        metric=config.metric,
        trial=best.number,
        validation_value=best.values[0],
        values=dict(zip(objective_names(study, config.metric), best.values, strict=False)),
        feasible=is_feasible(best),
        chosen=trial is not None,
        epochs=None if data.folds else epochs,
        n_train=len(data.y_train),
        n_test=len(data.y_test),
        train_time_s=round(time.perf_counter() - start, 2),
        computed_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    result.update(_save_model(opened, model, data, key=key))
    free_memory()
    held = HoldoutResult.model_validate(result)
    held = held.model_copy(update=upload_confusion_matrix(opened, held, part=holdout_part(trial, ensemble=ensemble)))
    write_holdout(study, held, trial, ensemble=ensemble)
    publish_holdout_note(opened, held, metric=config.metric, trial=trial)
    return held.returned()


def _train_and_test(
    space: Any,
    model_config: dict[str, Any],
    data: HoldoutData,
    x_train: Any,
    x_test: Any,
    *,
    epochs: int,
    seed: int,
    progress: bool,
    of: str = "",
    config: StudyConfig,
    callbacks: Callable[[str], list[Any]] = lambda label: [],
) -> tuple[Any, dict[str, Any]]:
    """Train the final model of ``model_config`` with ``seed`` and test it once: the model, its metrics.

    Without folds: one model on all training rows for ``epochs`` epochs. With
    the folds of a cross-validated study (``data.folds``): the average of one
    model per fold, each trained as in the trial (the fold's training rows, the
    seed, early stopping on the fold's validation rows with the study's
    ``patience`` and ``max_epochs``, its best epoch's weights restored), so that
    the final model is what cross-validation measured; ``fold_epochs`` in the
    metrics holds each fold model's best epoch count.
    """
    label = "holdout" + of.replace(" ", "-").replace("/", "-of-")  # " member 1/3": holdout-member-1-of-3
    if not data.folds:
        bar = _EpochBar(epochs, of=of) if progress else None
        weights = {"sample_weight": data.w_train, "class_weight": data.class_weight}
        extra = callbacks(label)
        model = _fit(space, model_config, data.task, x_train, data.y_train, epochs=epochs, seed=seed, bar=bar,
                     callbacks=extra, **weights)  # fmt: skip
        return model, _test(model, data, x_test)
    import keras

    members, fold_epochs = [], []
    for k, (fit_rows, val_rows) in enumerate(data.folds):
        bar = _EpochBar(config.max_epochs, of=f"{of} fold {k + 1}/{len(data.folds)}") if progress else None
        stop = keras.callbacks.EarlyStopping(**config.early_stopping)  # as the trial's folds stopped
        y_fit = data.y_train[fit_rows]
        model = _fit(
            space,
            model_config,
            data.task.fitted(y_fit),
            rows(x_train, fit_rows),
            y_fit,
            epochs=config.max_epochs,
            seed=seed,
            bar=bar,
            validation=(rows(x_train, val_rows), data.y_train[val_rows], rows(data.w_train, val_rows)),
            stop=stop,
            callbacks=callbacks(f"{label}/fold-{k + 1}"),
            sample_weight=rows(data.w_train, fit_rows),
            class_weight=data.class_weight,
        )
        members.append(_nested(model, f"fold_{k + 1}"))
        fold_epochs.append(int(stop.best_epoch) + 1)
    inputs = _inputs_like(members[0])
    average = keras.layers.Average(name="average_of_folds")([m(inputs) for m in members])
    model = keras.Model(inputs, average, name=f"folds_of_{len(members)}")
    model.compile(loss=data.task.loss, metrics=data.task.metrics())
    return model, {**_test(model, data, x_test), "fold_epochs": fold_epochs}


def _inputs_like(model: Any, name: str | None = None) -> Any:
    """New inputs of ``model``'s own structure, shapes, dtypes (strings for text) and sparseness."""
    import keras

    try:
        structure = model.input
    except AttributeError:  # a Sequential model of one's own: only ``inputs`` is defined
        structure = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.tree.map_structure(
        lambda t: keras.Input(shape=t.shape[1:], dtype=t.dtype, sparse=t.sparse, name=name), structure
    )


def _nested(model: Any, name: str) -> Any:
    """``model`` wrapped as a model named ``name``, so that members built alike get distinct names in one ensemble."""
    import keras

    inputs = _inputs_like(model)
    return keras.Model(inputs, model(inputs), name=name)


def _fit(
    space: Any,
    model_config: dict[str, Any],
    task: Task,
    x: Any,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    bar: _EpochBar | None,
    validation: tuple[Any, ...] | None = None,
    stop: Any = None,
    callbacks: Sequence[Any] = (),
    sample_weight: Any = None,
    class_weight: dict[int, float] | None = None,
) -> Any:
    """One model of ``model_config`` trained on ``x``, ``y`` from ``seed``; ``stop`` ends it on ``validation``.

    ``callbacks`` (the user's own, fresh for this model), ``sample_weight`` and
    ``class_weight`` train it as its trial trained.
    """
    set_seed(seed)
    model = space.build_for(model_config, x, task=task)
    own = [epoch_recorder(bar)] if bar else []
    train(
        model,
        x,
        y,
        batch_size=model_config["batch_size"],
        seed=seed,
        epochs=epochs,
        validation=validation,
        callbacks=[*own, *([stop] if stop is not None else []), *callbacks],
        sample_weight=sample_weight,
        class_weight=class_weight,
    )
    if bar:
        bar.close()
    return model


def _test(model: Any, data: HoldoutData, x_test: Any) -> dict[str, Any]:
    """The holdout metrics of ``model`` on the test rows, and its loss."""
    evaluation, scores = evaluate_and_predict(model, x_test, data.y_test)
    result = holdout_metrics(data.task, data.y_test, scores, data.class_names)
    result["loss"] = float(evaluation["loss"])
    return result


def _ensemble_members(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The ``k`` best complete, feasible trials with distinct configurations, by the first objective."""
    members, seen = [], set()
    for t in (t for t in ranked_trials(study) if "config" in t.user_attrs):
        shown = json.dumps(t.user_attrs["config"], sort_keys=True, default=str)
        if shown not in seen:
            seen.add(shown)
            members.append(t)
    if len(members) < k:
        raise InputError(
            f"study {study.study_name!r} has {len(members)} distinct complete configurations: "
            f"an ensemble of {k} needs as many"
        )
    return members[:k]


def _ensemble(
    space: Any,
    members: list[optuna.trial.FrozenTrial],
    outcomes: list[tuple[dict[str, Any], int]],
    data: HoldoutData,
    x_train: Any,
    x_test: Any,
    *,
    config: StudyConfig,
    progress: bool,
    callbacks: Callable[[str], list[Any]] = lambda label: [],
) -> tuple[Any, dict[str, Any]]:
    """Retrain each member (its own seed and epochs) and test the average of their outputs once.

    Of a cross-validated study each member is itself the average of its fold models.

    Members that read the same model inputs as the first share its input; when
    some read another representation (``imdb-ngrams``: another vocabulary,
    n-grams or weighting), the ensemble takes a list of inputs, one per distinct
    representation in the order of ``ensemble["inputs"]`` (the trials reading
    each), and each member reads its own.
    """
    import keras

    representations: list[tuple[Any, Any]] = [(x_train, x_test)]
    reads = [0]
    for model_config, _ in outcomes[1:]:
        train, test = space.features(model_config, data.x_train, data.x_test, fit_labels=data.y_train)
        same = next((j for j, (seen, _) in enumerate(representations) if _same_rows(seen, train)), None)
        if same is None:
            representations.append((train, test))
            same = len(representations) - 1
        reads.append(same)
    fitted, scores = [], []
    for i, (member, (model_config, epochs)) in enumerate(zip(members, outcomes, strict=True)):
        train, test = representations[reads[i]]
        model, run = _train_and_test(
            space,
            model_config,
            data,
            train,
            test,
            epochs=epochs,
            seed=config.seed + member.number,
            progress=progress,
            of=f" member {i + 1}/{len(members)}",
            config=config,
            callbacks=callbacks,
        )
        fitted.append(_nested(model, f"trial_{member.number}"))
        trained = {"fold_epochs": run["fold_epochs"]} if "fold_epochs" in run else {"epochs": epochs}
        scores.append({"trial": member.number, **trained, **{k: run[k] for k in SCALAR_METRICS if k in run}})

    def input_like(model: Any, j: int) -> Any:
        """An input of the member's own structure, shapes, dtypes (strings for text) and sparseness."""
        single = len(representations) == 1 or keras.tree.is_nested(model.input)
        return _inputs_like(model, None if single else f"representation_{j}")

    first_reader = [reads.index(j) for j in range(len(representations))]
    inputs = [input_like(fitted[i], j) for j, i in enumerate(first_reader)]
    average = keras.layers.Average(name="average")([m(inputs[reads[i]]) for i, m in enumerate(fitted)])
    model = keras.Model(inputs[0] if len(inputs) == 1 else inputs, average, name=f"ensemble_of_{len(members)}")
    model.compile(loss=data.task.loss, metrics=data.task.metrics())
    tests = [test for _, test in representations]
    result = _test(model, data, tests[0] if len(tests) == 1 else tests)
    if "fold_epochs" in scores[0]:
        result["fold_epochs"] = scores[0]["fold_epochs"]  # the best member's, as a single model's result has
    result["ensemble"] = {
        "k": len(members),
        "trials": [m.number for m in members],
        "members": scores,
        "inputs": [[m.number for m, j in zip(members, reads, strict=True) if j == r] for r in range(len(tests))],
    }
    return model, result


def _same_rows(a: Any, b: Any) -> bool:
    """Whether two model inputs hold the same rows (sparse matrices, arrays; anything else by identity)."""
    if a is b:
        return True
    import scipy.sparse

    if scipy.sparse.issparse(a) and scipy.sparse.issparse(b):
        return bool(a.shape == b.shape and (a != b).nnz == 0)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    return False


def _spread(runs: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Each scalar metric of repeated runs: its values, mean and standard deviation (``ddof=1``).

    Examples:
        >>> spread = _spread([{"accuracy": 0.8, "loss": 0.5}, {"accuracy": 0.9, "loss": 0.4}], [1, 2])
        >>> spread["n"], round(spread["mean"]["accuracy"], 4), round(spread["std"]["accuracy"], 4)
        (2, 0.85, 0.0707)
    """
    keys = [k for k in SCALAR_METRICS if all(isinstance(run.get(k), int | float) for run in runs)]
    values = {k: [float(run[k]) for run in runs] for k in keys}
    return {
        "n": len(runs),
        "seeds": seeds,
        "values": values,
        "mean": {k: float(np.mean(v)) for k, v in values.items()},
        "std": {k: float(np.std(v, ddof=1)) for k, v in values.items()},
    }


def _recorded(trial: optuna.trial.FrozenTrial, name: str) -> tuple[dict[str, Any], int]:
    """What a trial's retraining needs, as it recorded them: its configuration and epochs (its best epoch + 1).

    Raises:
        search.InputError: Neither recorded, or recorded as something else (edited in the database).
    """
    try:
        outcome = TrialOutcome.of(trial)
    except InputError:
        outcome = None
    config = outcome.config if outcome is not None else None
    if not isinstance(config, dict) or not isinstance(config.get("batch_size"), int):
        raise InputError(f"trial {trial.number} of study {name!r} has no recorded configuration to retrain")
    if outcome is None or outcome.best_epoch is None:
        raise InputError(f"trial {trial.number} of study {name!r} has no recorded best epoch to retrain for")
    return config, outcome.best_epoch + 1


def _trial_to_evaluate(study: optuna.Study, number: int | None) -> optuna.trial.FrozenTrial:
    """The chosen trial, or trial ``number`` when it is a complete trial of the study."""
    if number is None:
        best = chosen_trial(study)
        if best is None:
            raise InputError(
                f"study {study.study_name!r} has no completed trial yet (none that meets its constraints); run it first"
            )
        return best
    trials = study.get_trials(deepcopy=False)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < len(trials):
        numbered = f"numbered 0 to {len(trials) - 1}" if trials else "none yet"
        raise InputError(f"study {study.study_name!r} has no trial {number!r} (its trials are {numbered})")
    chosen = trials[number]
    if chosen.state.name != "COMPLETE":
        raise InputError(f"trial {number} of study {study.study_name!r} is {chosen.state.name}, not COMPLETE")
    return chosen


def _save_model(opened: OpenedStudy, model: Any, data: HoldoutData, *, key: str) -> dict[str, str]:
    """Save the model (and its fitted preprocessing) as Optuna artifacts of the study, once each.

    The store keeps each once, as ``models/<key>.keras`` (and
    ``models/<key>.preprocessing.joblib``), which optuna-dashboard also offers for
    download by its artifact id; its SHA-256 (and, for the pickle, this user's
    signature) is recorded for :func:`search.load_predictor`.
    """
    with tempfile.TemporaryDirectory(prefix="search-holdout-") as scratch:
        if data.preprocessor is None:
            path = Path(scratch) / f"{key}.keras"
            models.save_model(model, path)
            preprocessing = None
        else:
            predictor = Predictor(model, data.preprocessor, data.task, data.class_names, data.schema)
            path, preprocessing = predictor.save(scratch, key)
        saved = opened.upload(path, f"models/{path.name}", mimetype="application/zip")
        saved["model_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        if preprocessing is not None:
            kept = opened.upload(preprocessing, f"models/{preprocessing.name}", mimetype="application/octet-stream")
            # checked by load_predictor before unpickling, with the signature
            digest = hashlib.sha256(preprocessing.read_bytes()).hexdigest()
            saved["preprocessing_path"] = kept["model_path"]
            saved["preprocessing_sha256"] = digest
            saved["preprocessing_signature"] = opened.sign(f"models/{preprocessing.name}", digest)
            saved["preprocessing_artifact_id"] = kept["artifact_id"]
    return saved


class _EpochBar:
    def __init__(self, epochs: int, *, of: str = "") -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=epochs, desc=f"holdout retraining{of}", unit="epoch", file=sys.stderr)

    def __call__(self, epoch: int, history: dict[str, list[float]]) -> None:
        self._bar.set_postfix({k: f"{v[-1]:.4f}" for k, v in history.items() if k != "epoch_time"})
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()
