"""What kind of prediction a study makes: output layer, loss and metrics."""

from __future__ import annotations

import dataclasses
from typing import Any

from search.errors import InputError

__all__ = ["Task"]

_KINDS = ("binary", "multiclass", "regression")


@dataclasses.dataclass(frozen=True)
class Task:
    """The prediction task of a study.

    Attributes:
        kind: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        n_classes: Number of classes (multiclass only).

    Examples:
        >>> Task("binary").loss
        'binary_crossentropy'
    """

    kind: str
    n_classes: int = 2

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InputError(f"unknown task {self.kind!r} (known: {', '.join(_KINDS)})")
        if self.kind == "multiclass" and self.n_classes < 2:
            raise InputError(f"a multiclass task needs at least 2 classes, got {self.n_classes}")

    @property
    def output_units(self) -> int:
        return self.n_classes if self.kind == "multiclass" else 1

    @property
    def output_activation(self) -> str | None:
        return {"binary": "sigmoid", "multiclass": "softmax", "regression": None}[self.kind]

    @property
    def loss(self) -> str:
        return {
            "binary": "binary_crossentropy",
            "multiclass": "sparse_categorical_crossentropy",
            "regression": "mean_squared_error",
        }[self.kind]

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Names Keras logs for this task, training and ``val_`` ones, that a study may watch.

        Examples:
            >>> Task("regression").metric_names[-2:]
            ('val_rmse', 'val_mae')
        """
        base = ("loss", "rmse", "mae") if self.kind == "regression" else ("loss", "accuracy")
        return base + tuple(f"val_{name}" for name in base)

    def metrics(self) -> list[Any]:
        """Fresh Keras metric objects (``accuracy``; ``rmse`` and ``mae`` for regression)."""
        import keras

        if self.kind == "regression":
            return [keras.metrics.RootMeanSquaredError(name="rmse"), keras.metrics.MeanAbsoluteError(name="mae")]
        return ["accuracy"]
