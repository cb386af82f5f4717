"""What spaces build with: declared bounds checked in one place, the output layer and compile for a task."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from search.data import Task
from search.errors import InputError

if TYPE_CHECKING:
    import keras

__all__ = ["Bounds", "Limit", "check_bounds", "compile_for_task", "output_layer"]


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Validated bounds of a space (defaults merged with the study's overrides)."""

    values: dict[str, Any]

    def range(self, name: str) -> tuple[float, float]:
        low, high = self.values[name]
        return float(low), float(high)

    def int_range(self, name: str) -> tuple[int, int]:
        low, high = self.values[name]
        return int(low), int(high)

    def choices(self, name: str) -> list[Any]:
        return list(self.values[name])


@dataclasses.dataclass(frozen=True)
class Limit:
    """The values a bound of a space may take at all, whatever range a study asks for.

    ``low`` and ``high`` are included unless ``low_open`` or ``high_open`` (``None``:
    no limit on that side); ``integer`` asks for whole numbers. A study's range or
    list of choices outside its limit is refused before anything is written, not
    in every trial.

    Examples:
        >>> str(Limit(0, 1, high_open=True)), str(Limit(0, low_open=True)), str(Limit(1, integer=True))
        ('lie in [0, 1)', 'be positive', 'be at least 1')
        >>> Limit(0, 1, high_open=True).admits(1.0), Limit(0, 1, high_open=True).admits(0.5)
        (False, True)
    """

    low: float | None = None
    high: float | None = None
    _: dataclasses.KW_ONLY
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies within the limit (whole-number check apart: see ``integer``)."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        """What a value must do, to follow ``must`` in a message."""
        low, high = self.low, self.high
        if low is not None and high is not None:
            return f"lie in {'(' if self.low_open else '['}{low:g}, {high:g}{')' if self.high_open else ']'}"
        if low is not None:
            if low == 0:
                return "be positive" if self.low_open else "not be negative"
            return f"be above {low:g}" if self.low_open else f"be at least {low:g}"
        if high is not None:
            return f"be below {high:g}" if self.high_open else f"be at most {high:g}"
        return "be a number"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_bounds(
    defaults: dict[str, Any],
    overrides: dict[str, Any],
    *,
    choices: tuple[str, ...] = (),
    log: tuple[str, ...] = (),
    limits: dict[str, Limit] | None = None,
) -> Bounds:
    """Merge and validate bounds; every problem is one :class:`InputError` line.

    Args:
        defaults: The space's bounds: ``[low, high]`` ranges and lists of choices.
        overrides: A study's bounds, replacing some defaults.
        choices: Names of the bounds that are lists of choices.
        log: Names of the ranges sampled log-scaled (so positive).
        limits: What each bound may hold at all (every end of a range, every
            numeric choice): a dropout rate in ``[0, 1)``, a positive batch size.

    Returns:
        The merged bounds.

    Raises:
        search.InputError: An unknown bound, a range that is not ``[low, high]``
            of finite numbers with ``low <= high``, a log-scaled range not
            positive, an empty list of choices, or a value outside its limit.

    Examples:
        >>> check_bounds({"units": [8, 64]}, {"units": [16, 32]}).int_range("units")
        (16, 32)
        >>> check_bounds({"dropout": [0.0, 0.5]}, {"dropout": [0.0, 1.5]},
        ...              limits={"dropout": Limit(0, 1, high_open=True)})
        Traceback (most recent call last):
        ...
        search.errors.InputError: space bound 'dropout' must lie in [0, 1), got [0.0, 1.5]
        >>> check_bounds({"batch_size": [32, 64]}, {"batch_size": [32, 0.5]}, choices=("batch_size",),
        ...              limits={"batch_size": Limit(1, integer=True)})
        Traceback (most recent call last):
        ...
        search.errors.InputError: space bound 'batch_size' must be whole numbers, got [32, 0.5]
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise InputError(f"unknown space bound(s) {', '.join(unknown)} (known: {', '.join(defaults)})")
    limits = limits or {}
    merged = {**defaults, **overrides}
    for name, value in merged.items():
        if name in choices:
            if not isinstance(value, list) or not value:
                raise InputError(f"space bound {name!r} must be a non-empty list of choices, got {value!r}")
        else:
            ok = isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)
            if not ok or value[0] > value[1]:
                raise InputError(f"space bound {name!r} must be [low, high], finite, low <= high, got {value!r}")
            if name in log and value[0] <= 0:
                raise InputError(f"space bound {name!r} is log-scaled and must be positive, got {value!r}")
        if name in limits:
            _check_limit(name, value, limits[name])
    return Bounds(merged)


def _check_limit(name: str, values: list[Any], limit: Limit) -> None:
    """Refuse a range or list of choices (already of the right shape) with a value outside ``limit``."""
    if not all(_is_number(v) for v in values):  # choices of another kind (a range is numbers already)
        raise InputError(f"space bound {name!r} must list finite numbers, got {values!r}")
    if limit.integer and not all(float(v).is_integer() for v in values):
        raise InputError(f"space bound {name!r} must be whole numbers, got {values!r}")
    if not all(limit.admits(v) for v in values):
        raise InputError(f"space bound {name!r} must {limit}, got {values!r}")


def output_layer(task: Task, *, regularizer: keras.regularizers.Regularizer | None = None) -> keras.layers.Layer:
    """The last layer for ``task``: sigmoid, softmax or linear units (``regularizer`` on its kernel).

    A regression's linear units are scaled to the task's ``target_scale`` and
    shifted to its ``target_mean`` (:meth:`search.Task.fitted`), so that the
    untrained model already predicts at the targets' level; the two are values of
    the model, so that the folds of a cross-validated trial, each fitted to its own
    targets, run one compiled program.
    """
    import keras

    from search.models._layers import GlorotUniform, ScaledDense  # import Keras: loaded on first use

    options = {
        "activation": task.output_activation,
        "kernel_initializer": GlorotUniform(),
        "kernel_regularizer": regularizer,
        "name": "output",
    }
    if task.kind == "regression" and (task.target_mean, task.target_scale) != (0.0, 1.0):
        return ScaledDense(
            task.output_units, scale=task.target_scale, offset=task.target_mean, traced_scale=True, **options
        )
    return keras.layers.Dense(task.output_units, **options)


def compile_for_task(model: keras.Model, config: dict[str, Any], task: Task) -> keras.Model:
    """Compile ``model`` with Adam at ``config["learning_rate"]`` and the task's loss and metrics."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config["learning_rate"]),
        loss=task.loss,
        metrics=task.metrics(),
    )
    return model
