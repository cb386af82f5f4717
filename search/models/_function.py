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

__all__ = ["DEFAULT_BATCH_SIZE", "FunctionSpace", "loss_task"]

DEFAULT_BATCH_SIZE = 32
"""The batch size of a build function that suggests no ``batch_size`` and was given none (Keras' own default)."""

# Compiled losses (names without "_", lower case) and the task they train for.
_LOSS_TASKS = {
    "binarycrossentropy": "binary",
    "binaryfocalcrossentropy": "binary",
    "categoricalcrossentropy": "multiclass",
    "sparsecategoricalcrossentropy": "multiclass",
    "categoricalfocalcrossentropy": "multiclass",
    "meansquarederror": "regression",
    "mse": "regression",
    "meanabsoluteerror": "regression",
    "mae": "regression",
    "huber": "regression",
    "huberloss": "regression",
    "logcosh": "regression",
    "meansquaredlogarithmicerror": "regression",
    "msle": "regression",
    "meanabsolutepercentageerror": "regression",
    "mape": "regression",
}


def loss_task(model: keras.Model) -> tuple[Task, str] | None:
    """The task a compiled model's loss trains for, and the loss's name; ``None`` for another loss or several.

    A multiclass model's class count is its output's width.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        >>> model.compile(loss="sparse_categorical_crossentropy")
        >>> loss_task(model)
        (Task(kind='multiclass', n_classes=3), 'sparse_categorical_crossentropy')
        >>> model.compile(loss=keras.losses.Huber())
        >>> loss_task(model)
        (Task(kind='regression', n_classes=2), 'huber_loss')
    """
    loss = model.loss
    if isinstance(loss, str):
        name = loss
    elif callable(loss):
        name = str(getattr(loss, "name", None) or getattr(loss, "__name__", "") or type(loss).__name__)
    else:
        return None
    kind = _LOSS_TASKS.get(name.replace("_", "").lower())
    if kind is None:
        return None
    if kind != "multiclass":
        return Task(kind), name
    try:
        outputs = list(model.outputs)
    except (AttributeError, ValueError):  # a subclassed model not yet called
        outputs = []
    width = outputs[0].shape[-1] if len(outputs) == 1 else None
    # 2 stands for "not known yet" (a model without an Input): the targets then give the class count
    return Task("multiclass", n_classes=int(width) if width and width > 1 else 2), name


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

    def build(
        self, config: dict[str, Any], *, input_shape: tuple[int, ...], task: Task, sparse: bool = False
    ) -> keras.Model:
        """The model of ``config``; ``input_shape``, ``task`` and ``sparse`` are the function's own business."""
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
