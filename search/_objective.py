"""The Optuna objective: build, train with early stopping and pruning, record."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from search._config import StudyConfig
from search._datasets import SearchData
from search._training import best_epoch, epoch_recorder, free_memory, set_seed
from search._workers import worker_identity

if TYPE_CHECKING:
    import optuna

__all__ = ["Objective"]


class Objective:
    """Train one configuration per trial and return its best validation metric.

    Early stopping (``restore_best_weights=True``), the pruning callback and the
    returned value all watch ``config.metric``; the returned value is the metric
    at the recorded ``best_epoch``, the epoch whose weights early stopping
    restores. A loss that turns NaN or infinite fails the trial.

    Recorded user attributes: ``config``, ``history`` (per-epoch logs, updated
    every epoch), ``best_epoch`` (0-based), ``epochs_trained``, ``n_params``,
    ``wall_time_s``, ``stopped_by`` and ``worker``. Once a trial ends (complete,
    pruned or failed), its learning curves (a plotly figure on the study) and a
    note with the model summary are written for optuna-dashboard; a failed
    dashboard write is only logged.

    Args:
        config: The study definition.
        data: Partial-train and validation data.
        space: A module with ``suggest`` and ``build``.
        dashboard: Write each trial's learning curves and note for optuna-dashboard.
        on_epoch: Optional ``f(trial_number, epoch, history)`` called after every epoch
            (the progress bar uses it).

    Example:
        >>> study.optimize(Objective(config, data, load_space(config.space_module)), n_trials=3)  # doctest: +SKIP
    """

    def __init__(
        self,
        config: StudyConfig,
        data: SearchData,
        space: ModuleType,
        *,
        dashboard: bool = True,
        on_epoch: Callable[[int, int, dict[str, list[float]]], None] | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.space = space
        self.dashboard = dashboard
        self.on_epoch = on_epoch

    def __call__(self, trial: optuna.trial.Trial) -> float:
        facts: dict[str, Any] = {}
        try:
            value = self._train(trial, facts)
        except Exception:  # pruned or failed: still worth a note; Ctrl-C (BaseException) is not
            self._publish(trial, facts)
            raise
        self._publish(trial, facts)
        return value

    def _publish(self, trial: optuna.trial.Trial, facts: dict[str, Any]) -> None:
        """The trial's learning curves and note for optuna-dashboard (never raises)."""
        if self.dashboard:
            from search._dashboard import publish_trial

            publish_trial(trial, metric=self.config.metric, direction=self.config.direction, layers=facts.get("layers"))

    def _train(self, trial: optuna.trial.Trial, facts: dict[str, Any]) -> float:
        import keras
        from optuna_integration import KerasPruningCallback

        config, data = self.config, self.data
        model_config = self.space.suggest(trial, **config.space_bounds)
        trial.set_user_attr("config", model_config)
        trial.set_user_attr("worker", worker_identity())
        set_seed(config.seed + trial.number)
        start = time.perf_counter()

        def record(epoch: int, history: dict[str, list[float]]) -> None:
            trial.set_user_attr("history", history)
            trial.set_user_attr("epochs_trained", epoch + 1)
            if self.on_epoch is not None:
                with contextlib.suppress(Exception):  # a display problem must not fail the trial
                    self.on_epoch(trial.number, epoch, history)

        recorder = epoch_recorder(record)
        mode = "max" if config.direction == "maximize" else "min"
        early = keras.callbacks.EarlyStopping(
            monitor=config.metric, mode=mode, patience=config.patience, restore_best_weights=True
        )
        callbacks = [recorder, keras.callbacks.TerminateOnNaN(), early, KerasPruningCallback(trial, config.metric)]
        try:
            model = self.space.build(model_config, input_shape=data.input_shape, task=data.task)
            trial.set_user_attr("n_params", int(model.count_params()))
            if self.dashboard:
                facts["layers"] = _layers_or_none(model)
            model.fit(
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                batch_size=model_config["batch_size"],
                epochs=config.max_epochs,
                callbacks=callbacks,
                verbose=0,
            )
        except BaseException as exc:
            pruned = type(exc).__name__ == "TrialPruned"
            trial.set_user_attr("stopped_by", "pruned" if pruned else type(exc).__name__)
            if not pruned:
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise
        finally:
            trial.set_user_attr("wall_time_s", round(time.perf_counter() - start, 3))
            free_memory()
        history = recorder.history
        losses = history.get("loss", [])
        if not losses or not all(math.isfinite(v) for v in losses):
            trial.set_user_attr("stopped_by", "diverged")
            return math.nan  # Optuna marks a NaN objective value FAIL
        epochs = len(losses)
        trial.set_user_attr("stopped_by", "early_stopping" if epochs < config.max_epochs else "max_epochs")
        best = best_epoch(history[config.metric], config.direction)
        trial.set_user_attr("best_epoch", best)
        return history[config.metric][best]

    def __repr__(self) -> str:
        return f"Objective(study={self.config.name!r}, space={self.space.__name__!r})"


def _layers_or_none(model: Any) -> list[dict[str, Any]] | None:
    from search._dashboard import model_layers

    try:
        return model_layers(model)
    except Exception as exc:  # an unusual layer: the note goes without the layer table
        logging.getLogger("search").warning("could not summarize the model's layers: %s", exc)
        return None


def trial_summary(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A JSON-able summary of a finished trial (number, state, value, params, best epoch)."""
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        "params": trial.params,
        "best_epoch": trial.user_attrs.get("best_epoch"),
        "epochs_trained": trial.user_attrs.get("epochs_trained"),
    }
