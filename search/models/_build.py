"""What spaces build with: declared bounds checked in one place, the output layer and compile for a task."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from search.data import Task
from search.errors import InputError

if TYPE_CHECKING:
    import keras

__all__ = ["Bounds", "check_bounds", "compile_for_task", "output_layer"]


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


def check_bounds(
    defaults: dict[str, Any],
    overrides: dict[str, Any],
    *,
    choices: tuple[str, ...] = (),
    log: tuple[str, ...] = (),
) -> Bounds:
    """Merge and validate bounds; every problem is one :class:`InputError` line.

    Examples:
        >>> check_bounds({"units": [8, 64]}, {"units": [16, 32]}).int_range("units")
        (16, 32)
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise InputError(f"unknown space bound(s) {', '.join(unknown)} (known: {', '.join(defaults)})")
    merged = {**defaults, **overrides}
    for name, value in merged.items():
        if name in choices:
            if not isinstance(value, list) or not value:
                raise InputError(f"space bound {name!r} must be a non-empty list of choices, got {value!r}")
            continue
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            and value[0] <= value[1]
        )
        if not ok:
            raise InputError(f"space bound {name!r} must be [low, high] with low <= high, got {value!r}")
        if name in log and value[0] <= 0:
            raise InputError(f"space bound {name!r} is log-scaled and must be positive, got {value!r}")
    return Bounds(merged)


def output_layer(task: Task) -> keras.layers.Layer:
    """The last layer for ``task``: sigmoid, softmax or linear units."""
    import keras

    return keras.layers.Dense(task.output_units, activation=task.output_activation, name="output")


def compile_for_task(model: keras.Model, config: dict[str, Any], task: Task) -> keras.Model:
    """Compile ``model`` with Adam at ``config["learning_rate"]`` and the task's loss and metrics."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config["learning_rate"]),
        loss=task.loss,
        metrics=task.metrics(),
    )
    return model
