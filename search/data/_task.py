"""What kind of prediction a study makes: output layer, loss and metrics."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from search.errors import InputError

__all__ = ["Task", "check_class_count"]

_KINDS = ("binary", "multiclass", "regression")


def check_class_count(n_classes: int, n_rows: int, what: str) -> None:
    """Refuse classification targets with more classes than half their rows: most classes would have one example.

    No split can train and test on a class with a single example; such a target is
    an identifier, or numbers to regress.

    Raises:
        search.InputError: One line saying so.

    Examples:
        >>> check_class_count(3, 150, "y")
        >>> check_class_count(600, 600, "target column 'id'")
        Traceback (most recent call last):
        ...
        search.errors.InputError: target column 'id' holds 600 classes in 600 rows: ...
    """
    if n_classes > max(2, n_rows // 2):
        raise InputError(
            f"{what} holds {n_classes:,} classes in {n_rows:,} rows: most classes have a single example, which no "
            "split can both train and test on; is it an identifier, or numbers to predict (task regression)?"
        )


@dataclasses.dataclass(frozen=True)
class Task:
    """The prediction task of a study.

    Attributes:
        kind: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        n_classes: Number of classes (multiclass only).
        target_mean: Regression only: the mean of the training targets, where
            :func:`search.models.output_layer`'s outputs start (see :meth:`fitted`).
        target_scale: Regression only: their standard deviation, the scale of those outputs.

    Examples:
        >>> Task("binary").loss
        'binary_crossentropy'
    """

    kind: str
    n_classes: int = 2
    target_mean: float = dataclasses.field(default=0.0, repr=False)
    target_scale: float = dataclasses.field(default=1.0, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InputError(f"unknown task {self.kind!r} (known: {', '.join(_KINDS)})")
        if self.kind == "multiclass" and self.n_classes < 2:
            raise InputError(f"a multiclass task needs at least 2 classes, got {self.n_classes}")
        if not (math.isfinite(self.target_mean) and math.isfinite(self.target_scale) and self.target_scale > 0):
            raise InputError(
                f"target_mean must be finite and target_scale finite and positive, "
                f"got {self.target_mean}, {self.target_scale}"
            )

    def fitted(self, y: Any) -> Task:
        """This task with a regression's ``target_mean`` and ``target_scale`` taken from training targets ``y``.

        The task that the loaded data carry for the rows a model trains on (each
        fold's own, or all training rows for the holdout; see
        :func:`search.data.load_search_data`), so that its linear output starts at the
        targets' mean and scale instead of at 0 and 1: an MLP then need not learn a
        bias of, say, 23 mpg through small Adam steps. Other kinds come back unchanged.

        Examples:
            >>> task = Task("regression").fitted([10.0, 20.0, 30.0])
            >>> task.target_mean, round(task.target_scale, 4)
            (20.0, 8.165)
            >>> Task("binary").fitted([0, 1]) == Task("binary")
            True
        """
        if self.kind != "regression":
            return self
        values = np.asarray(y, dtype=np.float64).reshape(-1)
        values = values[np.isfinite(values)]
        if not len(values):
            return self
        scale = float(values.std())
        return dataclasses.replace(self, target_mean=float(values.mean()), target_scale=scale if scale > 0 else 1.0)

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
