"""The Optuna objective: build, train with early stopping and pruning, record."""

from __future__ import annotations

import math
import time
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
    restores. A study with a ``monitor`` (e.g. ``val_loss``) picks that epoch,
    and stops early, by the monitor instead, and returns ``config.metric`` at it.
    A loss that turns NaN or infinite fails the trial.

    Recorded user attributes: ``config``, ``history`` (per-epoch logs, updated
    every epoch), ``best_epoch`` (0-based), ``epochs_trained``, ``n_params``,
    ``wall_time_s``, ``stopped_by`` and ``worker``.

    Args:
        config: The study definition.
        data: Partial-train and validation data.
        space: A module with ``suggest`` and ``build``.

    Example:
        >>> study.optimize(Objective(config, data, load_space(config.space_module)), n_trials=3)  # doctest: +SKIP
    """

    def __init__(self, config: StudyConfig, data: SearchData, space: ModuleType) -> None:
        self.config = config
        self.data = data
        self.space = space

    def __call__(self, trial: optuna.trial.Trial) -> float:
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

        recorder = epoch_recorder(record)
        mode = "max" if config.monitor_direction == "maximize" else "min"
        early = keras.callbacks.EarlyStopping(
            monitor=config.monitored, mode=mode, patience=config.patience, restore_best_weights=True
        )
        callbacks = [recorder, keras.callbacks.TerminateOnNaN(), early, KerasPruningCallback(trial, config.metric)]
        try:
            model = self.space.build(model_config, input_shape=data.input_shape, task=data.task)
            trial.set_user_attr("n_params", int(model.count_params()))
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
        best = best_epoch(history[config.monitored], config.monitor_direction)
        trial.set_user_attr("best_epoch", best)
        return history[config.metric][best]

    def __repr__(self) -> str:
        return f"Objective(study={self.config.name!r}, space={self.space.__name__!r})"


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
