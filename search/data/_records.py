"""The records every loader returns and every trial or holdout receives, and the splits between them.

Trials only ever receive :class:`SearchData`; the test split reaches only :class:`HoldoutData`.

A loader may return raw rows (e.g. a pandas ``DataFrame``) with an *unfitted*
scikit-learn ``preprocessor``. Preprocessing is then part of training, never of
loading: the search data fits a clone on the partial-train rows only
(validation rows are transformed, as unseen data would be), and the holdout data
fits another clone on all training rows, the rows the holdout model is trained
on, and only transforms the test rows. The holdout's fitted preprocessor is what
is saved beside the holdout model. Loaders that return ready arrays (``imdb-bow``:
its vocabulary already comes from training reviews alone) leave ``preprocessor``
at ``None`` and are used as they are.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from search.data._task import Task
from search.errors import InputError

__all__ = [
    "Dataset",
    "HoldoutData",
    "SearchData",
    "as_features",
    "check_settings",
    "concat",
    "cv_folds",
    "fit_transform",
    "n_rows",
    "rows",
    "several",
    "split_train_validation",
    "subsample",
]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A whole data set as a loader returns it, before the train/validation split.

    Attributes:
        x_train: Training inputs: an array, or raw rows when ``preprocessor`` is set.
        y_train: Training targets.
        x_test: Test inputs, in the same form; only the holdout evaluation reads them.
        y_test: Test targets.
        task: What is predicted.
        train_ids: One id per training example.
        test_ids: One id per test example.
        class_names: Class names by label (classification).
        preprocessor: An unfitted scikit-learn transformer from raw rows to model
            inputs, or ``None`` when ``x_train`` and ``x_test`` are ready arrays.
        schema: JSON-able description of the raw rows (``target``, ``columns``,
            ``numeric``, ``categorical``, ``na_values``...), saved with the holdout model.
        x_val: Validation inputs the user gave, or ``None``: the search then splits
            its validation rows off ``x_train`` (``validation_size``).
        y_val: Their targets.
        w_train: A weight per training example (Keras' ``sample_weight``), or ``None``.
        w_val: A weight per validation example the user gave, or ``None``.
        class_weight: A weight per class number (Keras' ``class_weight``), or ``None``.

    Examples:
        >>> Dataset(x_train=np.zeros((4, 2)), y_train=np.zeros(4), x_test=np.zeros((2, 2)), y_test=np.zeros(2),
        ...         task=Task("binary"), train_ids=list("abcd"), test_ids=list("ef")).preprocessor is None
        True
    """

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    task: Task
    train_ids: list[str]
    test_ids: list[str]
    class_names: list[str] = dataclasses.field(default_factory=list)
    preprocessor: Any = None
    schema: dict[str, Any] = dataclasses.field(default_factory=dict)
    x_val: Any = None
    y_val: Any = None
    w_train: Any = None
    w_val: Any = None
    class_weight: dict[int, float] | None = None


@dataclasses.dataclass(frozen=True)
class SearchData:
    """What a trial sees: partial-train and validation arrays, never the test split.

    ``preprocessor`` is the loader's preprocessing fitted on the partial-train rows
    (``None`` for data that needs none). Under k-fold cross-validation ``folds``
    holds one :class:`SearchData` per fold (each with its own preprocessor, fitted
    on that fold's training rows, as its ``task``'s target level is, see
    :meth:`Task.fitted`) and the fields are those of the first fold. ``w_train``
    and ``w_val`` are the sample weights of those rows (``None``: none), and
    ``class_weight`` the weight of each class number.
    """

    x_train: Any
    y_train: np.ndarray
    x_val: Any
    y_val: np.ndarray
    task: Task
    train_ids: list[str]
    val_ids: list[str]
    preprocessor: Any = None
    folds: tuple[SearchData, ...] = ()
    w_train: Any = None
    w_val: Any = None
    class_weight: dict[int, float] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example (``()`` for streams, whose batches the model reads as they come)."""
        return tuple(self.x_train.shape[1:]) if hasattr(self.x_train, "shape") else ()


@dataclasses.dataclass(frozen=True)
class HoldoutData:
    """What the holdout evaluation sees: all training examples and the test split.

    ``preprocessor`` is the loader's preprocessing fitted on all training rows
    (``None`` for data that needs none), as ``task``'s target level is (:meth:`Task.fitted`);
    ``schema`` describes the raw columns. Of a cross-validated study, ``folds``
    holds the search's ``(train, validation)`` row positions in ``x_train`` of
    each fold (:func:`cv_folds`), and ``train_ids`` the training rows' ids.
    """

    x_train: Any
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    task: Task
    class_names: list[str]
    preprocessor: Any = None
    schema: dict[str, Any] = dataclasses.field(default_factory=dict)
    folds: tuple[tuple[np.ndarray, np.ndarray], ...] = ()
    train_ids: list[str] = dataclasses.field(default_factory=list)
    w_train: Any = None
    class_weight: dict[int, float] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def split_train_validation(
    labels: np.ndarray, *, validation_size: int | float, seed: int, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle split of example indices into partial-train and validation.

    Stratified on ``labels`` for classification, so the validation set keeps the
    class balance even when the source is sorted by label.

    Examples:
        >>> train, val = split_train_validation(np.array([0] * 50 + [1] * 50), validation_size=20, seed=0)
        >>> len(train), len(val)
        (80, 20)
    """
    from sklearn.model_selection import train_test_split

    n = len(labels)
    if isinstance(validation_size, int) and not 0 < validation_size < n:
        raise InputError(f"validation_size must be between 1 and {n - 1}, got {validation_size}")
    if isinstance(validation_size, float) and not 0.0 < validation_size < 1.0:
        raise InputError(f"validation_size as a fraction must be in (0, 1), got {validation_size}")
    n_val = validation_size if isinstance(validation_size, int) else math.ceil(validation_size * n)
    if stratify and not _can_stratify(labels, n_val):
        stratify = False  # a class too rare to be in both parts: a plain seeded shuffle
    train, val = train_test_split(
        np.arange(n), test_size=validation_size, random_state=seed, stratify=labels if stratify else None
    )
    return np.sort(train), np.sort(val)


def cv_folds(labels: np.ndarray, *, k: int, seed: int, stratify: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded k-fold split of example indices: ``(train, validation)`` rows of each fold, each sorted.

    Every example is in exactly one validation fold. Stratified on ``labels`` for
    classification (each fold keeps the class balance) when every class has at
    least ``k`` examples; otherwise a plain seeded shuffle.

    Raises:
        InputError: ``k`` below 2 or above the number of examples.

    Examples:
        >>> folds = cv_folds(np.array([0] * 10 + [1] * 10), k=5, seed=0)
        >>> [len(val) for _, val in folds], sorted(np.concatenate([val for _, val in folds])) == list(range(20))
        ([4, 4, 4, 4, 4], True)
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(labels)
    if not 2 <= k <= n:
        raise InputError(f"cv must be between 2 and the {n} training examples, got {k}")
    _, counts = np.unique(labels, return_counts=True)
    splitter: Any = (
        StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        if stratify and counts.min() >= k
        else KFold(n_splits=k, shuffle=True, random_state=seed)
    )
    return [(np.sort(train), np.sort(val)) for train, val in splitter.split(np.zeros(n), labels)]


def _can_stratify(labels: np.ndarray, n_val: int) -> bool:
    _, counts = np.unique(labels, return_counts=True)
    return bool(counts.min() >= 2 and len(counts) <= min(n_val, len(labels) - n_val))


def subsample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A balanced (stratified), seeded sample of ``size`` row numbers, in order; all rows if ``size`` covers them."""
    if size >= len(labels):
        return np.arange(len(labels))
    _, rows = split_train_validation(labels, validation_size=int(size), seed=seed)
    return rows


def several(x: Any) -> bool:
    """Whether ``x`` is several inputs, as ``model.fit`` takes them: a dict of them, or a list or tuple of arrays.

    Examples:
        >>> several({"a": np.zeros(2)}), several([np.zeros(2), np.zeros(2)]), several([[1, 2], [3, 4]])
        (True, True, False)
    """
    if isinstance(x, dict):
        return True
    return isinstance(x, list | tuple) and bool(x) and all(hasattr(v, "shape") or hasattr(v, "iloc") for v in x)


def n_rows(x: Any) -> int:
    """The number of examples of inputs: an array's, a sparse matrix's, a frame's, or several inputs' (the first).

    Examples:
        >>> import scipy.sparse as sp
        >>> n_rows(sp.random(5, 3, format="csr")), n_rows({"a": np.zeros((4, 2)), "b": np.zeros(4)})
        (5, 4)
    """
    if several(x):
        return n_rows(next(iter(x.values())) if isinstance(x, dict) else x[0])
    return int(x.shape[0]) if hasattr(x, "shape") and not hasattr(x, "iloc") else len(x)


def concat(first: Any, second: Any) -> Any:
    """Rows of ``first`` then of ``second``: arrays, sparse matrices, pandas frames, or several of them.

    Examples:
        >>> concat(np.zeros((1, 2)), np.ones((2, 2))).shape
        (3, 2)
    """
    if isinstance(first, dict):
        return {k: concat(v, second[k]) for k, v in first.items()}
    if several(first):
        return [concat(a, b) for a, b in zip(first, second, strict=True)]
    if hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat([first, second], ignore_index=True)
    if hasattr(first, "tocsr"):
        import scipy.sparse as sp

        return sp.vstack([first, second], format="csr")
    return np.concatenate([np.asarray(first), np.asarray(second)])


def rows(x: Any, index: np.ndarray) -> Any:
    """Rows of an array, a sparse matrix, a pandas frame or several inputs (by position); ``None`` stays ``None``.

    Examples:
        >>> rows(np.arange(6).reshape(3, 2), np.array([2, 0])).tolist()
        [[4, 5], [0, 1]]
        >>> rows({"a": np.arange(3)}, np.array([1]))
        {'a': array([1])}
    """
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: rows(v, index) for k, v in x.items()}
    if several(x):
        return [rows(v, index) for v in x]
    return x.iloc[index].reset_index(drop=True) if hasattr(x, "iloc") else x[index]


def fit_transform(template: Any, fit_rows: Any, other_rows: Any) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    """Fit a fresh clone of ``template`` on ``fit_rows``; both parts as dense ``float32`` arrays."""
    from sklearn.base import clone

    fitted = clone(template).fit(fit_rows)
    return fitted, (as_features(fitted.transform(fit_rows)), as_features(fitted.transform(other_rows)))


def as_features(x: Any) -> np.ndarray:
    """A transformer's output as a dense ``float32`` array (the models' input type).

    Examples:
        >>> as_features([[1, 2]]).dtype
        dtype('float32')
    """
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))


def check_settings(settings: dict[str, Any], known: set[str], kind: str) -> None:
    """Refuse ``[data]`` settings that the loader of ``kind`` does not read.

    Examples:
        >>> check_settings({"kind": "iris", "sise": 3}, {"kind", "size"}, "iris")
        Traceback (most recent call last):
        ...
        search.errors.InputError: unknown [data] setting(s) for iris: sise (known: kind, size)
    """
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InputError(
            f"unknown [data] setting(s) for {kind}: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
