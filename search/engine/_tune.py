"""``tune``: search a model of one's own on data in memory, with everything a shipped study gets.

The call becomes a study definition like any other (:class:`StudyConfig`) and
runs through :func:`run_study`: persisted, resumable with the same call, watched
in optuna-dashboard, spread over worker processes, closed by a holdout. What
other processes need travels with the study: the data as one file in the
study's artifact folder, the build function by its import path or, for one
defined in ``__main__`` or a notebook, pickled (cloudpickle) into the same
folder. Both files are read back only when their SHA-256 matches the digest the
study recorded.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from search.data import (
    Dataset,
    Task,
    dataset_from_memory,
    fit_transform,
    is_stream,
    keep_dataset,
    name_key,
    rows,
)
from search.engine._callbacks import check_callbacks, keep_callbacks
from search.engine._config import MAX_FOLDS, SIGNATURE, StudyConfig, check_name
from search.engine._logs import framework_logs, quiet_optuna
from search.engine._run import run_study
from search.engine._spaces import check_sets
from search.engine._storage import closes_storages
from search.engine._trust import ARTIFACT_PREFIX, REFERENCE, keep_given, sign
from search.errors import InputError
from search.models import LoadedSpace, Space, load_space, use_backend

if TYPE_CHECKING:
    import keras
    import optuna

__all__ = ["infer_direction", "tune"]

# Metric names (without "val_") whose larger values are better; other known ones are errors or losses.
_HIGHER_IS_BETTER = ("accuracy", "auc", "precision", "recall", "f1", "r2", "iou", "prc")
_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "rmse", "mape", "msle", "crossentropy", "hinge", "poisson")


def infer_direction(metric: str) -> str:
    """``"maximize"`` or ``"minimize"`` for a known metric name, e.g. ``val_auc`` or ``val_loss``.

    Raises:
        search.InputError: A name this cannot tell: give ``direction``.

    Examples:
        >>> infer_direction("val_auc"), infer_direction("val_loss"), infer_direction("val_binary_accuracy")
        ('maximize', 'minimize', 'maximize')
        >>> infer_direction("val_cross_entropy"), infer_direction("val_mean_absolute_error")
        ('minimize', 'minimize')
    """
    name = metric.removeprefix("val_").lower().replace("_", "")  # binary_crossentropy, cross_entropy
    if any(word in name for word in _LOWER_IS_BETTER):
        return "minimize"
    if any(word in name for word in _HIGHER_IS_BETTER):
        return "maximize"
    raise InputError(f"cannot tell whether metric {metric!r} is better high or low: give direction='maximize' or ...")


@closes_storages
def tune(
    build: Callable[[optuna.trial.BaseTrial], keras.Model] | str | Space,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_split: float | None = None,
    cv: int = 1,
    test_data: Any = None,
    metric: str = "val_loss",
    direction: str | None = None,
    n_trials: int = 20,
    timeout: float | None = None,
    max_epochs: int = 20,
    patience: int = 3,
    batch_size: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    workers: int | None = None,
    task: str | None = None,
    bounds: dict[str, Any] | None = None,
    seed: int = 0,
    sampler: dict[str, Any] | None = None,
    pruner: dict[str, Any] | None = None,
    enqueue: list[dict[str, Any]] | None = None,
    memory_limit_mb: float | None = None,
    show_progress: bool = True,
    allow_changes: bool = False,
    artifacts: str | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    class_weight: dict[Any, float] | None = None,
    sample_weight: Any = None,
    verbose: bool = False,
) -> optuna.Study:
    """Search a model of one's own on data in memory: a persisted, resumable study.

    Args:
        build: A define-by-run function ``build(trial) -> compiled keras.Model``
            that samples while it builds (a parameter named ``batch_size``, if it
            suggests one, is the batch size); or a space (a module such as
            ``spaces.mlp``, its name, or an object with ``suggest`` and ``build``).
        x: Training inputs: a NumPy array, a SciPy sparse matrix, a dict or list of
            them (a model of several inputs, as ``model.fit`` takes them), a
            ``pandas.DataFrame`` (non-numeric columns one-hot encoded, the others
            standardized, fitted on training rows only), or a stream
            (``tf.data.Dataset``, ``keras.utils.PyDataset``) of ``(x, y)`` batches.
        y: Targets (for a frame, also the name of its target column); none for streams.
        validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``
            (a stream, for streams); default: a seeded, stratified
            ``validation_split`` of ``x`` (its weights follow its rows).
        validation_split: Fraction of ``x`` to validate on without ``validation_data`` (0.2).
        cv: Folds of k-fold cross-validation over ``x`` (stratified for
            classification) instead of one validation split: each trial trains
            every fold and returns the mean (see ``StudyConfig.cv``); 1: none.
        test_data: ``(x_test, y_test)``, seen once by :func:`search.evaluate_holdout`.
        metric: A validation metric the compiled model logs (``val_loss``,
            ``val_accuracy``, ``val_auc``, a custom one) that early stopping,
            pruning and the objective watch.
        direction: ``"maximize"`` or ``"minimize"``; inferred for known names.
        n_trials: Total finished trials of the study (a budget: the same call resumes).
        timeout: Stop starting trials after this many seconds.
        max_epochs: Upper bound on epochs; early stopping decides.
        patience: Early-stopping patience in epochs.
        batch_size: The batch size of a build function that suggests none (default 32).
        storage: An Optuna storage URL; default :func:`search.engine.default_storage`.
        study_name: The study's name; default ``tune-<build function name>``.
        workers: Worker processes on this machine; ``None``: what ``python -m search run``
            chooses (one per core, or per GPU's memory), each loading the stored data
            and build function; streams train in this process.
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"classification"``;
            default: what the model's compiled loss trains for (``binary_crossentropy``,
            ``sparse_categorical_crossentropy``, ``mse``...), checked against ``y``, else
            inferred from ``y``.
        bounds: Bound overrides of a space (as a study's ``[space]`` table).
        seed: Seed of the sampler, the validation split and each trial's initialisation.
        sampler: An ``optuna.samplers`` class ``name`` and its options (default TPE).
        pruner: An ``optuna.pruners`` class ``name`` and its options (default median
            pruning from the second epoch; with ``cv``, ``WilcoxonPruner(p_threshold=0.1)``
            over the folds).
        enqueue: Parameter sets to try first, as a definition's ``[[enqueue]]`` tables:
            the values of some of the names the build function (or the space) suggests,
            e.g. ``[{"units": 64, "learning_rate": 1e-3}]``; the sampler picks the rest.
            With a space, they replace its portfolio (a build function has none).
        memory_limit_mb: As for :func:`search.run_study`.
        show_progress: A progress bar (a widget in Jupyter).
        allow_changes: Resume although the data or the space changed.
        artifacts: Where the study keeps its files (a folder, or ``s3://bucket/prefix``),
            as for :func:`search.run_study`.
        callbacks: Keras callbacks for every model trained (trials, folds, workers,
            holdout, ensemble members), a fresh copy each; a ``TensorBoard`` writes
            each under its own subfolder (``trial-3``, ``trial-3/fold-1``,
            ``holdout``). ``EarlyStopping``, ``ModelCheckpoint`` and
            ``BackupAndRestore`` are refused: the tool does those itself.
        class_weight: Weights of the classes of ``y`` (by their labels), as ``model.fit`` takes them.
        sample_weight: One weight per row of ``x``, following its rows through
            validation splits and folds.
        verbose: Show Optuna's INFO lines (see :func:`search.run_study`).

    Returns:
        The ``optuna.Study``.

    Raises:
        search.InputError: Bad input, found before anything is written (one dry
            build and evaluation of the model on two rows checks the contract).
        search.RunError: The run could not go on.

    Examples:
        >>> import keras, numpy as np, tempfile
        >>> def build(trial):
        ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(trial.suggest_int("units", 2, 16)),
        ...                               keras.layers.Dense(1, activation="sigmoid")])
        ...     model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        ...     return model
        >>> x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("float32")
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> study = tune(build, x, y, metric="val_accuracy", n_trials=2, max_epochs=2, storage=url,
        ...              show_progress=False)
        >>> len(study.trials), study.direction.name
        (2, 'MAXIMIZE')
    """
    with framework_logs(verbose=verbose):
        use_backend()
        _check_options(n_trials=n_trials, max_epochs=max_epochs, patience=patience, cv=cv, workers=workers)
        if cv > 1 and (validation_data is not None or validation_split is not None):
            raise InputError("cv folds all of x: give neither validation_data nor validation_split with it")
        if validation_data is not None and validation_split is not None:
            raise InputError("give validation_data or validation_split, not both (validation_split splits x)")
        if direction is not None and direction not in ("maximize", "minimize"):
            raise InputError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        kept_callbacks = check_callbacks(callbacks)
        space = load_space(build)
        function = space.function is not None
        space_bounds = dict(bounds or {})
        if function:
            if bounds:
                raise InputError("a build function takes no bounds: it samples its own parameters")
            if batch_size is not None:
                space_bounds["batch_size"] = batch_size
        elif batch_size is not None:
            raise InputError("batch_size is for build functions: a space samples its own (bound 'batch_size')")
        model = _dry_model(space, space_bounds) if function else None
        if enqueue is not None:  # replayed through the space in memory, before anything is signed or written
            if not isinstance(enqueue, list):
                raise InputError(f"enqueue must be a list of dicts of parameter values, got {type(enqueue).__name__}")
            check_sets(enqueue, space, space_bounds, what="enqueue set")
        dataset = dataset_from_memory(
            x,
            y,
            validation_data=validation_data,
            validation_split=validation_split,
            test_data=test_data,
            task=task,
            seed=seed,
            sample_weight=sample_weight,
            class_weight=class_weight,
            model_task=space.model_task(model) if model is not None else None,
        )
        streamed = is_stream(dataset.x_train)
        if streamed and ((workers or 1) > 1 or memory_limit_mb is not None):
            raise InputError("streamed data (tf.data, PyDataset) stays here: it cannot go to worker processes")
        if streamed and cv > 1:
            raise InputError("streamed data (tf.data, PyDataset) cannot be split into cv folds: give arrays or a frame")
        name = study_name if study_name is not None else f"tune-{_function_name(space)}"
        check_name(name, what="study_name")
        direction = direction or infer_direction(metric)
        logged = _dry_evaluate(space, model, dataset) if model is not None else []
        if function and metric.removeprefix("val_") not in logged:
            shown = ", ".join(f"val_{m}" for m in logged)
            raise InputError(f"metric {metric!r} is not logged by the model (it logs: {shown})")
        data, files = _stored_data(dataset, name)
        space_table, space_files = _stored_space(space, space_bounds, name)
        callbacks_table, callbacks_files = keep_callbacks(kept_callbacks, name)
        config = StudyConfig.checked(
            {
                "name": name,
                "metric": metric,
                "direction": direction,
                "seed": seed,
                "data": data,
                "space": space_table,
                "sampler": sampler
                or {"name": "TPESampler", "n_startup_trials": 10, "multivariate": True, "constant_liar": True},
                "pruner": pruner or _default_pruner(cv),
                "trials": n_trials,
                "max_epochs": max_epochs,
                "patience": patience,
                "description": f"tune({space.name})",
                "metrics": logged,
                "cv": cv,
                "callbacks": callbacks_table or None,
                "enqueue": list(enqueue or []),
            },
            source="tune()",
        )
        if streamed and workers is None:
            print("streamed data (tf.data, PyDataset) trains in this process: it cannot go to workers", file=sys.stderr)
        return run_study(
            config,
            timeout=timeout,
            storage=storage,
            allow_changes=allow_changes,
            show_progress=show_progress,
            workers=1 if streamed else workers,
            memory_limit_mb=memory_limit_mb,
            files=files | space_files | callbacks_files,
            artifacts=artifacts,
            verbose=verbose,
        )


def _check_options(*, n_trials: Any, max_epochs: Any, patience: Any, cv: Any, workers: Any) -> None:
    """Refuse budgets, patience, folds and worker counts that are not whole numbers in range (one line)."""
    for label, value in (("n_trials", n_trials), ("max_epochs", max_epochs)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{label} must be a positive integer, got {value!r}")
    if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
        raise InputError(f"patience must be a non-negative integer, got {patience!r}")
    if not isinstance(cv, int) or isinstance(cv, bool) or not 1 <= cv <= MAX_FOLDS:
        raise InputError(f"cv must be an integer from 1 (no cross-validation) to {MAX_FOLDS}, got {cv!r}")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")


def _stored_data(dataset: Dataset, name: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The definition's ``[data]`` table of data kept with the study, and its file (signed: its author reads it)."""
    digest, blob = keep_dataset(dataset, name)
    if blob is None:  # streamed: they stay in this process
        return {"kind": "stored", "file": "", "sha256": digest}, {}
    data: dict[str, Any] = {"kind": "stored", "file": f"{name_key(name)}.joblib", "sha256": digest}
    data[SIGNATURE] = sign(f"data/{data['file']}", digest)  # this user's processes read it without a flag
    return data, {f"data/{data['file']}": blob}


def _stored_space(space: LoadedSpace, bounds: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The definition's ``[space]`` table, and the pickled build function to keep with the study (if any)."""
    reference, pickled = _reference(space, name)
    table: dict[str, Any] = {"module": reference, **bounds}
    if pickled is None:
        if reference.partition(":")[2]:  # a build function of one's own module: trusted by its author
            table[SIGNATURE] = sign(REFERENCE, reference)
        return table, {}
    digest = hashlib.sha256(pickled).hexdigest()
    table["sha256"] = digest
    table[SIGNATURE] = sign(reference.removeprefix(ARTIFACT_PREFIX), digest)
    keep_given(space, digest)
    return table, {reference.removeprefix(ARTIFACT_PREFIX): pickled}


def _default_pruner(cv: int) -> dict[str, Any]:
    """Median pruning from the second epoch; with folds, Wilcoxon's test on each fold against the best trial's.

    Examples:
        >>> _default_pruner(5)
        {'name': 'WilcoxonPruner', 'p_threshold': 0.1}
    """
    if cv > 1:
        return {"name": "WilcoxonPruner", "p_threshold": 0.1}
    return {"name": "MedianPruner", "n_startup_trials": 5, "n_warmup_steps": 1}


def _function_name(space: LoadedSpace) -> str:
    function = space.function or space.space
    return str(getattr(function, "__name__", None) or space.name).rsplit(".", 1)[-1]


def _reference(space: LoadedSpace, name: str) -> tuple[str, bytes | None]:
    """How the definition names the space: an import path, or a pickle (bytes) for the artifact folder.

    A function or object defined at the top of a module is named by
    ``module:name`` when that gives it back in a fresh process; one of
    ``__main__``, a notebook, a class or a closure is pickled by value
    (cloudpickle): a stored reference never goes through attributes.
    """
    import cloudpickle

    target = space.function or space.space
    if inspect.ismodule(target):
        return target.__name__, None
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if module and module != "__main__" and "<" not in qualname and "." not in qualname and module in sys.modules:
        found: Any = sys.modules[module]
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if found is target:
            return f"{module}:{qualname}", None
    return f"{ARTIFACT_PREFIX}functions/{name_key(name)}.pkl", cloudpickle.dumps(target)


def _dry_model(space: LoadedSpace, bounds: dict[str, Any]) -> keras.Model:
    """The model a build function returns for a throw-away trial (before any write: its errors are one line)."""
    import optuna

    with quiet_optuna():
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    try:
        config = space.suggest(trial, bounds)
        return space.build(config, input_shape=(), task=Task("regression"))  # a build function builds its own
    except InputError:
        raise
    except Exception as exc:  # the user's build function fails: one line with its own error, before any write
        raise InputError(f"the build function {space.name} fails: {_one_line(exc)}") from None


def _dry_evaluate(space: LoadedSpace, model: keras.Model, dataset: Dataset) -> list[str]:
    """Evaluate ``model`` on two rows of the data (no training): the metrics it logs."""
    import keras

    try:
        if is_stream(dataset.x_train):
            logs = model.evaluate(dataset.x_val, steps=1, verbose=0, return_dict=True)
        else:
            index = np.arange(min(2, len(dataset.y_train)))
            x_rows = rows(dataset.x_train, index)
            if dataset.preprocessor is not None:
                _, (_, x_rows) = fit_transform(dataset.preprocessor, dataset.x_train, x_rows)
            logs = model.evaluate(x_rows, dataset.y_train[index], verbose=0, return_dict=True)
    except Exception as exc:  # the user's model and data do not fit together: one line, before any write
        raise InputError(f"the model of {space.name} cannot be evaluated on the data: {_one_line(exc)}") from None
    keras.backend.clear_session()
    return sorted(logs)


def _one_line(exc: BaseException) -> str:
    """An exception as one short line: its type and message.

    Examples:
        >>> _one_line(ValueError("bad\\n  value"))
        'ValueError: bad value'
    """
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
