"""A define-by-run build function as a space: ``build(trial) -> compiled keras.Model``, as Optuna users write it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from search.data import Task
from search.errors import InputError

if TYPE_CHECKING:
    import keras
    import optuna

__all__ = ["DEFAULT_BATCH_SIZE", "FunctionSpace"]

DEFAULT_BATCH_SIZE = 32
"""The batch size of a build function that suggests no ``batch_size`` and was given none (Keras' own default)."""


class FunctionSpace:
    """A space whose configuration is what ``build(trial)`` sampled while it built its model.

    ``suggest`` calls the function on the trial, keeps the model it returned and
    gives ``{"params": <the trial's parameters>, "batch_size": ...}``: the batch
    size is the parameter named ``batch_size`` when the function suggests one,
    else ``batch_size`` (the ``tune`` argument), else :data:`DEFAULT_BATCH_SIZE`.
    ``build`` returns that model, or builds it again from the parameters with an
    ``optuna.trial.FixedTrial`` (the holdout does). The task and input shape are
    the function's business: it builds and compiles the whole model.

    Args:
        function: ``build(trial) -> keras.Model``, compiled.

    Examples:
        >>> import keras, optuna
        >>> def build(trial):
        ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(trial.suggest_int("units", 2, 8))])
        ...     model.compile(optimizer="adam", loss="mse")
        ...     return model
        >>> space = FunctionSpace(build)
        >>> config = space.suggest(optuna.trial.FixedTrial({"units": 5}), batch_size=64)
        >>> config, space.build(config, input_shape=(4,), task=Task("regression")).count_params()
        ({'params': {'units': 5}, 'batch_size': 64}, 25)
    """

    def __init__(self, function: Callable[[optuna.trial.BaseTrial], keras.Model]) -> None:
        self.function = function
        self.__name__ = getattr(function, "__qualname__", None) or repr(function)
        self._last: tuple[str, keras.Model] | None = None

    def suggest(self, trial: optuna.trial.BaseTrial, *, batch_size: int | None = None) -> dict[str, Any]:
        model = self._call(trial)
        params = dict(trial.params)
        chosen = params.get("batch_size", batch_size or DEFAULT_BATCH_SIZE)
        if not isinstance(chosen, int) or isinstance(chosen, bool) or chosen < 1:
            raise InputError(f"batch_size must be a positive integer, got {chosen!r}")
        config = {"params": params, "batch_size": chosen}
        self._last = (json.dumps(params, sort_keys=True, default=str), model)
        return config

    def build(self, config: dict[str, Any], *, input_shape: tuple[int, ...], task: Task) -> keras.Model:
        import optuna

        key = json.dumps(config["params"], sort_keys=True, default=str)
        if self._last is not None and self._last[0] == key:
            model, self._last = self._last[1], None
            return model
        return self._call(optuna.trial.FixedTrial(config["params"]))

    def _call(self, trial: optuna.trial.BaseTrial) -> keras.Model:
        import keras

        model = self.function(trial)
        if not isinstance(model, keras.Model):
            raise InputError(f"build function {self.__name__} returned {type(model).__name__}, not a keras.Model")
        if not model.compiled:
            raise InputError(f"build function {self.__name__} returned a model that is not compiled (model.compile)")
        return model

    def __repr__(self) -> str:
        return f"FunctionSpace({self.__name__})"
