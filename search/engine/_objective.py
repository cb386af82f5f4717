"""The Optuna objective: build, train with early stopping and pruning, record."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.data import SearchData
from search.engine._artifacts import Artifacts, study_artifacts
from search.engine._callbacks import fresh_callbacks
from search.engine._checkpoint import (
    Checkpoint,
    TrialCheckpoints,
    checkpoint_callback,
    checkpoint_interval,
    checkpointed_trials,
    resumable_early_stopping,
)
from search.engine._config import PROPERTIES, StudyConfig, limit_name
from search.engine._dashboard import model_layers, publish_trial
from search.engine._identity import worker_identity
from search.engine._records import StoppedBy, TrialOutcome, record
from search.engine._signals import Stopped, stop_requested
from search.engine._storage import heartbeat_interval, is_proxy
from search.models import (
    LoadedSpace,
    compiling,
    epoch_recorder,
    free_memory,
    freeze_long_lived,
    measure_model,
    parameter_count,
    set_seed,
    train,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["HISTORY_EVERY_S", "Objective"]

HISTORY_EVERY_S = 2.0
"""Seconds between two writes of a training trial's ``history`` (its live learning curves) to the storage."""


@dataclasses.dataclass(frozen=True)
class _Fitted:
    """One trained model's result: epochs trained, the best one and, at it, each objective's and constraint's value."""

    epochs: int
    best_epoch: int
    values: dict[str, float]


class Objective:
    """Train one configuration per trial and return its best validation metric (or metrics and properties).

    Early stopping (``restore_best_weights=True``), the pruning callback and the
    returned value all watch ``config.metric``; the returned value is the metric
    at the recorded ``best_epoch``, the epoch whose weights early stopping
    restores. A study with a ``monitor`` (e.g. ``val_loss``) picks that epoch,
    and stops early, by the monitor instead, and returns ``config.metric`` at it.
    A loss that turns NaN or infinite fails the trial.

    A multi-objective study (``config.objectives``) returns ``config.metric``
    and then each further objective: a validation metric at the same best
    epoch, or a property measured on the trained model (the restored best
    weights) by :func:`search.models.measure_model`, also kept as a user
    attribute of its name. Its trials are not pruned; early stopping still
    watches ``metric`` (or ``monitor``). ``config.constraints`` go to Optuna's
    ``trial.set_constraint`` as ``value - max`` or ``min - value`` (feasible at 0 or below).

    With k folds (``data.folds``, a study's ``cv``), a trial trains one model
    per fold, each from the trial's seed; after each fold it reports that fold's
    ``metric`` at its best epoch (step = fold number, what
    ``optuna.pruners.WilcoxonPruner`` compares against the best trial's folds)
    and may be pruned there; no per-epoch pruning then. It returns the mean
    over the folds of each objective, keeps each fold's ``best_epoch``,
    ``epochs`` and ``values`` in the user attribute ``folds`` (so that a retry
    trains only the folds not yet done) and, as ``best_epoch``, the rounded
    mean of the folds' best epochs (the epochs the holdout model trains).

    Recorded user attributes: ``config``, ``history`` (per-epoch logs, written every :data:`HISTORY_EVERY_S` seconds
    while training and once it ends), ``best_epoch`` (0-based), ``epochs_trained``, ``n_params``, ``wall_time_s``,
    ``stopped_by``, ``worker``, ``backend`` (Keras backend) and, for a resumed trial, ``resumed_from_epoch``. Once a
    trial ends (complete, pruned or failed), its learning curves (a plotly figure on the study) and a note with the
    model summary are written for optuna-dashboard; a failed dashboard write is only logged.

    With a ``storage_url``, an epoch is checkpointed (model with optimizer
    state, history, early-stopping state) in the study's artifact store every
    :func:`~search.engine._checkpoint.checkpoint_interval` seconds of training; a re-queued trial
    (``retry_of``) resumes from the last completed epoch of the trial it retries,
    reporting that trial's epochs again so the pruner sees the whole curve.

    Args:
        config: The study definition.
        data: Partial-train and validation data.
        space: The study's space (:func:`search.models.load_space`).
        storage_url: The study's storage; enables per-epoch checkpoints.
        artifacts: Where checkpoints go; default: the study's artifact store
            (:func:`search.engine.study_artifacts`).
        budget: The study's total of finished trials, when several workers share
            it: a trial that starts once earlier-numbered trials fill the budget
            (another worker started at the same moment) is failed at once, with
            ``stopped_by = "surplus"``, instead of running.
        dashboard: Write each trial's learning curves and note for optuna-dashboard.
        on_epoch: Optional ``f(trial_number, epoch, history)`` called after every epoch
            (the progress bar uses it).
        callbacks: The user's own Keras callbacks (see :func:`search.tune`), a
            fresh copy of each for every model trained.

    Examples:
        >>> import optuna
        >>> from search.data import load_search_data
        >>> from search.engine import load_study_config
        >>> from search.models import load_space
        >>> config = load_study_config("iris", max_epochs=2)
        >>> objective = Objective(config, load_search_data(config.data, seed=0), load_space(config.space_module))
        >>> study = optuna.create_study(direction="maximize")
        >>> study.optimize(objective, n_trials=1)
        >>> recorded = set(study.trials[0].user_attrs)
        >>> {"backend", "best_epoch", "config", "epochs_trained", "seconds_compiling"} <= recorded
        True
    """

    def __init__(
        self,
        config: StudyConfig,
        data: SearchData,
        space: LoadedSpace,
        *,
        storage_url: str | None = None,
        artifacts: Artifacts | None = None,
        budget: int | None = None,
        dashboard: bool = True,
        on_epoch: Callable[[int, int, dict[str, list[float]]], None] | None = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        self.config = config
        self.data = data
        self.space = space
        self.storage_url = storage_url
        self._artifacts = artifacts
        self.checkpoint_every_s = checkpoint_interval()
        self.budget = budget
        self.dashboard = dashboard
        self.on_epoch = on_epoch
        self.callbacks = list(callbacks)

    def artifacts(self, study: optuna.Study) -> Artifacts | None:
        """The study's artifact store (where checkpoints go), ``None`` without a storage URL."""
        if self.storage_url is None:
            return None
        if self._artifacts is None:
            self._artifacts = study_artifacts(self.storage_url, study)
        return self._artifacts

    def _user_callbacks(self, number: int, fold: int | None) -> list[Any]:
        """A fresh copy of the user's own callbacks for one model (see ``search.engine._callbacks.fresh_callbacks``)."""
        label = f"trial-{number}" + ("" if fold is None else f"/fold-{fold + 1}")
        return fresh_callbacks(self.callbacks, label)

    def _checkpoints(self, study: optuna.Study, number: int) -> TrialCheckpoints | None:
        artifacts = self.artifacts(study)
        return None if artifacts is None else TrialCheckpoints(artifacts, self.config.name, number)

    def __call__(self, trial: optuna.trial.Trial) -> float | tuple[float, ...]:
        facts: dict[str, Any] = {}
        try:
            with _alive(trial, enabled=self.storage_url is not None and is_proxy(self.storage_url)):
                value = self._train(trial, facts)
        except Exception as exc:  # pruned or failed: still worth a note; Ctrl-C (BaseException) is not
            if not _is_pruned(exc) and "error" not in trial.user_attrs:  # e.g. a build function that raised
                _record_error(trial, exc)
            self._publish(trial, facts)
            raise
        if facts.get("stopped_by") is not StoppedBy.SURPLUS:  # never really started: nothing to show
            self._publish(trial, facts)
        return value

    def _publish(self, trial: optuna.trial.Trial, facts: dict[str, Any]) -> None:
        """The trial's learning curves and note for optuna-dashboard (never raises)."""
        if self.dashboard:
            publish_trial(trial, metric=self.config.metric, direction=self.config.direction, layers=facts.get("layers"))

    def _failed(self) -> float | tuple[float, ...]:
        """What a failed trial returns: NaN for each objective (Optuna marks it FAIL)."""
        n = len(self.config.objective_names)
        return math.nan if n == 1 else (math.nan,) * n

    def _train(self, trial: optuna.trial.Trial, facts: dict[str, Any]) -> float | tuple[float, ...]:
        import keras

        freeze_long_lived()
        config = self.config
        record(trial, worker=worker_identity(), backend=keras.backend.backend())
        if self._surplus(trial):
            facts["stopped_by"] = StoppedBy.SURPLUS
            record(trial, stopped_by=StoppedBy.SURPLUS)
            return self._failed()  # FAIL, quietly: other workers had already filled the budget
        # Seeded first: a build function (search.tune) builds its model while it samples.
        set_seed(config.seed + trial.number)
        model_config = self.space.suggest(trial, config.space_bounds)
        record(trial, config=model_config)
        group = self.space.group(model_config)
        if group is not None:
            record(trial, group=group)
        start = time.perf_counter()
        with compiling() as compiled:
            try:
                if self.data.folds:
                    return self._cross_validate(trial, model_config, facts)
                store = self._checkpoints(trial.study, trial.number)
                fitted = self._fit(trial, model_config, self.data, facts, store=store, resumed=self._resume(trial))
                if fitted is None:
                    return self._failed()  # Optuna marks a NaN objective value FAIL
                record(trial, best_epoch=fitted.best_epoch)
                return self._objective_values(trial, fitted.values)
            finally:
                record(
                    trial,
                    wall_time_s=round(time.perf_counter() - start, 3),
                    seconds_compiling=round(compiled.seconds, 3),
                    seconds_training=round(max(0.0, facts.get("training_s", 0.0) - compiled.seconds), 3),
                    compile_cache_hits=compiled.hits,
                    compile_cache_misses=compiled.misses,
                )

    def _cross_validate(
        self, trial: optuna.trial.Trial, model_config: dict[str, Any], facts: dict[str, Any]
    ) -> float | tuple[float, ...]:
        """Train every fold; report each fold's metric (step = fold) and return the mean of each objective.

        Folds that a trial this one retries completed (user attribute ``folds``) are
        not trained again: their results are reported again and kept.
        """
        import optuna

        config, k = self.config, len(self.data.folds)
        done = self._completed_folds(trial)
        if done:
            record(trial, resumed_from_fold=len(done))
        folds: list[dict[str, Any]] = []
        for index, part in enumerate(self.data.folds):
            if index < len(done):
                fold = done[index]
            else:
                set_seed(config.seed + trial.number)  # every fold starts from the trial's seed, as the holdout model
                fitted = self._fit(trial, model_config, part, facts, store=None, resumed=None, fold=index)
                if fitted is None:
                    return self._failed()
                fold = {"best_epoch": fitted.best_epoch, "epochs": fitted.epochs, "values": fitted.values}
            folds.append(fold)
            record(trial, folds=folds)
            if not config.multi_objective:  # trial.report is single-objective
                trial.report(fold["values"][config.metric], index)
                if trial.should_prune():
                    record(trial, stopped_by=StoppedBy.PRUNED)
                    raise optuna.TrialPruned(f"pruned after fold {index + 1} of {k}")
        # The holdout model trains on all training examples for this many epochs (best_epoch + 1).
        record(trial, best_epoch=round(sum(f["best_epoch"] for f in folds) / k))
        means = {name: sum(f["values"][name] for f in folds) / k for name in folds[0]["values"]}
        return self._objective_values(trial, means)

    def _completed_folds(self, trial: optuna.trial.Trial) -> list[dict[str, Any]]:
        """The folds that the trials this one retries completed: handed on to the retry when it was queued."""
        outcome = TrialOutcome.read(trial.user_attrs, number=trial.number)
        folds = outcome.folds
        if not folds and not outcome.retry_history and outcome.retry_of is not None:
            # A retry queued by an earlier version handed nothing on: its trial's folds, looked up once.
            retried = trial.study.get_trials(deepcopy=False)[outcome.retry_of]
            folds = TrialOutcome.of(retried).folds
        return [dict(f) for f in folds][: len(self.data.folds)]

    def _fit(
        self,
        trial: optuna.trial.Trial,
        model_config: dict[str, Any],
        data: SearchData,
        facts: dict[str, Any],
        *,
        store: TrialCheckpoints | None,
        resumed: Checkpoint | None,
        fold: int | None = None,
    ) -> _Fitted | None:
        """Build (or resume) and train one model on ``data``; ``None`` when its loss diverged.

        Per-epoch pruning applies to a single-objective study without folds (with
        folds, the pruner sees one value per fold instead).
        """
        from optuna_integration import KerasPruningCallback

        config = self.config
        x_train, x_val = self.space.features(model_config, data.x_train, data.x_val, fit_labels=data.y_train)

        written = {"at": -math.inf, "epochs": 0}

        def store_history(history: dict[str, list[float]]) -> None:
            epochs = len(history.get("loss", []))
            record(trial, history=history, epochs_trained=epochs)
            written.update(at=time.monotonic(), epochs=epochs)

        def after_epoch(epoch: int, history: dict[str, list[float]]) -> None:
            # Two storage writes per epoch cost more than an epoch of a small model (docs/benchmarks.md, overhead):
            # the live curves are written every HISTORY_EVERY_S, the rest once it ends.
            if time.monotonic() - written["at"] >= HISTORY_EVERY_S:
                store_history(history)
            if self.on_epoch is not None:
                with contextlib.suppress(Exception):  # a display problem must not fail the trial
                    self.on_epoch(trial.number, epoch, history)

        recorder = epoch_recorder(after_epoch)
        early = resumable_early_stopping(resumed.early_stopping if resumed else None, **config.early_stopping)
        # No callback here has a batch-end hook: Keras would then copy every step's logs to the host, waiting for
        # each step to finish (a large share of fit's time on imdb-bow); with none, steps are dispatched asynchronously.
        callbacks = [recorder, _stop_on_nan(), early, _stop_on_signal()]
        if store is not None:
            on_error = _checkpoint_failed(trial)

            def saved() -> None:  # the stored curves are never behind the checkpoint a retry resumes from
                store_history(recorder.history)

            every_s = self.checkpoint_every_s
            callbacks.append(checkpoint_callback(store, recorder, early, on_error, every_s=every_s, on_saved=saved))
        if not config.multi_objective and fold is None:  # Optuna's pruners rank one value per step
            callbacks.append(KerasPruningCallback(trial, config.metric))
        measured: dict[str, Any] = {}
        try:
            if resumed is None:
                free_memory(collect=False)  # each trial's model named as in a fresh session, the first one too
                model = self.space.build_for(model_config, x_train, task=data.task)
                initial_epoch = 0
            else:
                model, initial_epoch = resumed.model, resumed.epoch + 1
                recorder.history.update({k: list(v) for k, v in resumed.history.items()})
                after_epoch(resumed.epoch, recorder.history)
            if not model.built and hasattr(x_train, "shape"):  # a Sequential of one's own without an Input
                model.build((None, *x_train.shape[1:]))
            if model.built:
                record(trial, n_params=parameter_count(model))
            if self.dashboard:
                facts["layers"] = _layers_or_none(model)
            finished = resumed is not None and resumed.early_stopping["stopped_epoch"] > 0
            if initial_epoch < config.max_epochs and not finished:
                began = time.perf_counter()
                try:
                    train(
                        model,
                        x_train,
                        data.y_train,
                        batch_size=model_config["batch_size"],
                        seed=config.seed + trial.number,
                        epochs=config.max_epochs,
                        initial_epoch=initial_epoch,
                        validation=(x_val, data.y_val, data.w_val),
                        callbacks=[*callbacks, *self._user_callbacks(trial.number, fold)],
                        sample_weight=data.w_train,
                        class_weight=data.class_weight,
                    )
                finally:  # what training took, compilation included (seconds_training leaves it out)
                    facts["training_s"] = facts.get("training_s", 0.0) + time.perf_counter() - began
            elif early.best_weights is not None:
                model.set_weights(early.best_weights)  # what EarlyStopping restores at the end
            if config.measured and recorder.history.get("loss"):
                measured = measure_model(model, x_val, names=config.measured)
                record(trial, **measured)
        except BaseException as exc:
            pruned = _is_pruned(exc)
            interrupted = isinstance(exc, KeyboardInterrupt)  # Ctrl-C, SIGTERM (Stopped): re-queued with its checkpoint
            kind = StoppedBy.PRUNED if pruned else StoppedBy.INTERRUPTED if interrupted else StoppedBy.FAILED
            record(trial, stopped_by=kind)
            if not pruned:
                _record_error(trial, exc, where="" if fold is None else f"fold {fold + 1}: ")
            raise
        finally:
            if len(recorder.history.get("loss", [])) > written["epochs"]:
                with contextlib.suppress(Exception):  # must not hide why training ended; a failed write is seen later
                    store_history(recorder.history)
            free_memory()
        if "n_params" not in trial.user_attrs and model.built:  # built by its first batch (a stream)
            record(trial, n_params=parameter_count(model))
        history = recorder.history
        losses = history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            record(trial, stopped_by=StoppedBy.DIVERGED)
            return None
        record(trial, stopped_by=StoppedBy.EARLY_STOPPING if len(losses) < config.max_epochs else StoppedBy.MAX_EPOCHS)
        best = recorder.best_epoch(config.monitored, config.monitor_direction)

        def value(name: str) -> float:
            if name in PROPERTIES:
                return float(measured[name])
            if name not in history:
                logged = ", ".join(k for k in history if k.startswith("val_"))
                raise KeyError(f"metric {name!r} is not logged by the model (it logs: {logged})")
            return float(history[name][best])

        names = [*config.objective_names, *(limit_name(key) for key in config.constraints)]
        return _Fitted(epochs=len(losses), best_epoch=best, values={name: value(name) for name in dict.fromkeys(names)})

    def _objective_values(self, trial: optuna.trial.Trial, values: dict[str, float]) -> float | tuple[float, ...]:
        """Set the constraints from ``values`` and return the objective value(s)."""
        config = self.config
        for key, limit in config.constraints.items():
            got = values[limit_name(key)]
            trial.set_constraint(key, got - limit if key.startswith("max_") else limit - got)
        chosen = tuple(values[name] for name in config.objective_names)
        return chosen if config.multi_objective else chosen[0]

    def trial_stored(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Delete the checkpoints of a trial once its end is stored (an Optuna callback).

        Until Optuna has stored the trial's state, a kill must find the last
        checkpoint, so the retry resumes instead of starting over; an interrupted
        (Ctrl-C) trial keeps its checkpoints for the retry. The checkpoints of the
        trials it retried, and any left by a worker killed after storing a finished
        trial, go too.
        """
        import optuna

        artifacts = self.artifacts(study)
        outcome = TrialOutcome.of(trial)
        if artifacts is None or (outcome.stopped_by is not None and outcome.stopped_by.interrupted):
            return
        for number in {trial.number, *outcome.retried}:
            TrialCheckpoints(artifacts, self.config.name, number).remove()
        # Leftovers of workers killed after their trial was stored: only trials with files are looked up.
        stored = checkpointed_trials(artifacts, self.config.name)
        if stored:
            finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
            for t in study.get_trials(deepcopy=False, states=finished):
                if t.number in stored:
                    TrialCheckpoints(artifacts, self.config.name, t.number).remove()

    def _surplus(self, trial: optuna.trial.Trial) -> bool:
        """Whether trials numbered before this one already fill the budget (another worker started it)."""
        import optuna

        if self.budget is None:
            return False
        state = optuna.trial.TrialState
        ahead = trial.study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED, state.RUNNING))
        return sum(t.number < trial.number for t in ahead) >= self.budget

    def _resume(self, trial: optuna.trial.Trial) -> Checkpoint | None:
        """The newest checkpoint along the chain of trials this one retries, its epochs reported again.

        A retry killed before its own first checkpoint leaves none, so the chain is
        walked back to the last trial that saved one.
        """
        artifacts = self.artifacts(trial.study)
        if artifacts is None:
            return None
        checkpoint = None
        for number in TrialOutcome.read(trial.user_attrs, number=trial.number).retried:
            checkpoint = TrialCheckpoints(artifacts, self.config.name, number).load()
            if checkpoint is not None:
                break
        if checkpoint is None:
            return None
        if not self.config.multi_objective:  # a multi-objective trial reports nothing (it is never pruned)
            for epoch, value in enumerate(checkpoint.history.get(self.config.metric, [])):
                trial.report(value, epoch)
        record(trial, resumed_from_epoch=checkpoint.epoch)
        return checkpoint

    def __repr__(self) -> str:
        return f"Objective(study={self.config.name!r}, space={self.space.name!r})"


@contextlib.contextmanager
def _alive(trial: optuna.trial.Trial, *, enabled: bool) -> Iterator[None]:
    """Record ``alive_at`` (Unix time) on the trial every heartbeat interval while the block runs.

    Optuna's storage heartbeat (``RDBStorage(heartbeat_interval=...)``) does not
    pass through its gRPC proxy (``GrpcStorageProxy`` is no ``BaseHeartbeat``):
    workers that reach the database through a proxy say they are alive with this
    attribute instead, and :func:`~search.engine._recovery.recover_trials` fails
    and re-queues a trial whose ``alive_at`` is older than the grace period.
    """
    if not enabled:
        yield
        return
    stop = threading.Event()
    interval = heartbeat_interval()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a lost beat is retried at the next interval
                record(trial, alive_at=time.time())
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="search-alive", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _stop_on_signal() -> Any:
    import keras

    class StopOnSignal(keras.callbacks.Callback):
        """Stop between steps once a signal asked for it, even if its ``KeyboardInterrupt`` was swallowed.

        A batch-begin hook: a batch-end one would make Keras wait for every step's logs.
        """

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if (signum := stop_requested()) is not None:
                raise Stopped(signum)

    return StopOnSignal()


def _stop_on_nan() -> Any:
    import keras

    class StopOnNaN(keras.callbacks.Callback):
        """End training after an epoch whose loss is NaN or infinite (the trial then fails as diverged).

        Keras' ``TerminateOnNaN`` checks every batch, which makes Keras wait for every
        step's logs; an epoch of a diverged model is cheap to lose.
        """

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.model.stop_training = True

    return StopOnNaN()


def _checkpoint_failed(trial: optuna.trial.Trial) -> Callable[[int, OSError], None]:
    """What to do when an epoch's checkpoint cannot be written (a full disk): go on without it.

    The trial keeps training; its previous checkpoint (if any) stays the one a retry
    would resume from. The reason is kept in the user attribute ``checkpoint_error``
    and logged, once per trial, on one line.
    """
    logged = False

    def failed(epoch: int, exc: OSError) -> None:
        nonlocal logged
        reason = f"epoch {epoch + 1}: {exc.strerror or exc}"
        with contextlib.suppress(Exception):  # the storage may be unreachable too: training goes on regardless
            record(trial, checkpoint_error=reason[:500])
        if not logged:
            logged = True
            logging.getLogger("search").warning(
                "trial %d: checkpoint not written (%s); the trial goes on without it", trial.number, reason
            )

    return failed


def _is_pruned(exc: BaseException) -> bool:
    import optuna

    return isinstance(exc, optuna.TrialPruned)


def _record_error(trial: optuna.trial.Trial, exc: BaseException, *, where: str = "") -> None:
    """Keep why a trial failed on it: ``error`` (type and message) and ``error_traceback`` (the user's frames).

    The frames are those outside Python's own library, installed packages and
    this package: the user's build function or callback, where the fix is.
    """
    record(trial, error=" ".join(f"{where}{type(exc).__name__}: {exc}".split())[:500])
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _users(f.filename)]
    if frames:
        record(trial, error_traceback="".join(traceback.format_list(frames[-5:]))[-2000:])


def _users(filename: str) -> bool:
    """Whether a traceback frame's file is the user's (not the standard library, a package or this tool)."""
    import sysconfig

    if filename.startswith("<") and not filename.startswith(("<ipython", "<stdin")):
        return False  # <frozen ...>, <string> of a library
    library = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    own = str(Path(__file__).resolve().parents[1])
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return not any(path.startswith(folder) for folder in (*library, own) if folder)


def _layers_or_none(model: Any) -> list[dict[str, Any]] | None:
    try:
        return model_layers(model)
    except Exception as exc:  # an unusual layer: the note goes without the layer table
        logging.getLogger("search").warning("could not summarize the model's layers: %s", exc)
        return None
