"""The loader registry: ``[data] kind`` to a loader, and the search and holdout splits it feeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from search.data._bow import imdb_bow_dataset, imdb_ngrams_dataset
from search.data._imdb import imdb_text_dataset
from search.data._memory import load_stored
from search.data._records import (
    Dataset,
    HoldoutData,
    SearchData,
    concat,
    cv_folds,
    fit_transform,
    rows,
    split_train_validation,
)
from search.data._synthetic import load_synthetic
from search.data._tabular import load_auto_mpg, load_csv, load_iris
from search.errors import InputError

__all__ = ["Loader", "known_kinds", "load_holdout_data", "load_search_data", "register_loader"]

Loader = Callable[[dict[str, Any], int], Dataset]
"""``loader(settings, seed) -> Dataset``: ``settings`` is the study's ``[data]`` table."""

_LOADERS: dict[str, Loader] = {
    "imdb-bow": imdb_bow_dataset,
    "imdb-text": imdb_text_dataset,
    "imdb-ngrams": imdb_ngrams_dataset,
    "csv": load_csv,
    "iris": load_iris,
    "auto-mpg": load_auto_mpg,
    "synthetic": load_synthetic,
    "stored": load_stored,
}


def register_loader(kind: str, loader: Loader) -> None:
    """Make ``[data] kind = "<kind>"`` load with ``loader(settings, seed) -> Dataset``.

    A loader returns ready arrays, or raw rows with an unfitted ``preprocessor``
    (see :class:`search.data.Dataset`) that is fitted on training rows only.

    Examples:
        >>> import numpy as np
        >>> from search.data import Task
        >>> def two_rows(settings, seed):
        ...     x, y = np.eye(4, dtype="float32"), np.array([0, 1, 0, 1], dtype="float32")
        ...     return Dataset(x_train=x, y_train=y, x_test=x, y_test=y, task=Task("binary"),
        ...                    train_ids=list("abcd"), test_ids=list("efgh"))
        >>> register_loader("doctest-rows", two_rows)
        >>> load_search_data({"kind": "doctest-rows", "validation_size": 2}, seed=0).x_val.shape
        (2, 4)
    """
    _LOADERS[kind] = loader


def known_kinds() -> list[str]:
    """The data kinds registered in this process.

    Examples:
        >>> {"imdb-bow", "iris", "csv"} <= set(known_kinds())
        True
    """
    return sorted(_LOADERS)


def _load(settings: dict[str, Any], seed: int) -> Dataset:
    kind = settings.get("kind")
    if kind not in _LOADERS:
        raise InputError(f"unknown data kind {kind!r} (known: {', '.join(known_kinds())})")
    return _LOADERS[kind](settings, seed)


def load_search_data(settings: dict[str, Any], *, seed: int, cv: int = 1) -> SearchData:
    """Load the data of a study and split its training part into partial-train and validation.

    Args:
        settings: The study's ``[data]`` table.
        seed: Seed of the split.
        cv: Folds of k-fold cross-validation over all training examples
            (stratified for classification); 1: one seeded split of
            ``validation_size``. Test examples are in no fold.

    Raises:
        search.InputError: Unknown data kind or unavailable data; ``cv`` with a
            validation set of one's own.

    Examples:
        >>> data = load_search_data({"kind": "iris"}, seed=42)
        >>> data.x_train.shape, data.x_val.shape
        ((96, 4), (24, 4))
        >>> [fold.x_val.shape[0] for fold in load_search_data({"kind": "iris"}, seed=42, cv=5).folds]
        [24, 24, 24, 24, 24]
    """
    dataset = _load(settings, seed)
    stratify = dataset.task.kind != "regression"
    if cv > 1:
        folds = tuple(_part(dataset, train, val) for train, val in _folds(dataset, cv=cv, seed=seed))
        return dataclasses.replace(folds[0], folds=folds)
    if dataset.x_val is not None:  # the user's own validation set
        own = (dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val)
        return _search_data(dataset, *own, dataset.train_ids, _own_val_ids(dataset), dataset.w_train, dataset.w_val)
    validation_size = settings.get("validation_size", 0.2)
    train, val = split_train_validation(dataset.y_train, validation_size=validation_size, seed=seed, stratify=stratify)
    return _part(dataset, train, val)


def _folds(dataset: Dataset, *, cv: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(train, validation)`` row positions of each of ``cv`` folds of the training rows: one computation for
    the search and the holdout, so that both see the same folds."""
    if dataset.x_val is not None:
        raise InputError("cross-validation (cv) folds all training examples: give no validation set of your own")
    return cv_folds(dataset.y_train, k=cv, seed=seed, stratify=dataset.task.kind != "regression")


def _own_val_ids(dataset: Dataset) -> list[str]:
    """Ids of the user's own validation rows, ``val/0``, ``val/1``, ... (none without them)."""
    n_val = len(dataset.y_val) if dataset.x_val is not None and dataset.y_val is not None else 0
    return [f"val/{i}" for i in range(n_val)]


def _part(dataset: Dataset, train: np.ndarray, val: np.ndarray) -> SearchData:
    """The search data of training rows ``train`` and validation rows ``val`` (by position)."""
    x, y, ids, w = dataset.x_train, dataset.y_train, dataset.train_ids, dataset.w_train
    train_ids, val_ids = [ids[i] for i in train], [ids[i] for i in val]
    return _search_data(
        dataset, rows(x, train), y[train], rows(x, val), y[val], train_ids, val_ids, rows(w, train), rows(w, val)
    )


def _search_data(
    dataset: Dataset,
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    train_ids: list[str],
    val_ids: list[str],
    w_train: Any = None,
    w_val: Any = None,
) -> SearchData:
    """Search data of these parts, the loader's preprocessing (if any) fitted on ``x_train`` alone, the task
    (a regression's target level, :meth:`Task.fitted`) on ``y_train`` alone."""
    fitted = None
    if dataset.preprocessor is not None:
        fitted, (x_train, x_val) = fit_transform(dataset.preprocessor, x_train, x_val)
    return SearchData(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        task=dataset.task.fitted(y_train),
        train_ids=train_ids,
        val_ids=val_ids,
        preprocessor=fitted,
        w_train=w_train,
        w_val=w_val,
        class_weight=dataset.class_weight,
    )


def load_holdout_data(settings: dict[str, Any], *, seed: int, cv: int = 1) -> HoldoutData:
    """Load all training examples and the untouched test split of a study.

    Args:
        settings: The study's ``[data]`` table.
        seed: Seed of the split.
        cv: The study's folds: with ``cv > 1`` the result's ``folds`` are the
            row positions of the folds :func:`load_search_data` gives the search.

    Examples:
        >>> data = load_holdout_data({"kind": "iris"}, seed=42)
        >>> data.x_train.shape, data.x_test.shape
        ((120, 4), (30, 4))
        >>> [len(val) for _, val in load_holdout_data({"kind": "iris"}, seed=42, cv=5).folds]
        [24, 24, 24, 24, 24]
    """
    dataset = _load(settings, seed)
    folds = tuple(_folds(dataset, cv=cv, seed=seed)) if cv > 1 else ()
    if dataset.x_test is None:
        raise InputError("the study has no test data for a holdout (give test_data= when tuning)")
    x_train, y_train, x_test, fitted = dataset.x_train, dataset.y_train, dataset.x_test, None
    w_train = dataset.w_train
    if dataset.x_val is not None:  # the user's own validation set: the holdout model trains on both
        x_train, y_train = concat(x_train, dataset.x_val), np.concatenate([y_train, dataset.y_val])
        if w_train is not None:
            w_train = np.concatenate([w_train, dataset.w_val])
    if dataset.preprocessor is not None:
        fitted, (x_train, x_test) = fit_transform(dataset.preprocessor, x_train, x_test)
    return HoldoutData(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=dataset.y_test,
        task=dataset.task.fitted(y_train),
        class_names=dataset.class_names,
        preprocessor=fitted,
        schema=dataset.schema,
        folds=folds,
        train_ids=[*dataset.train_ids, *_own_val_ids(dataset)],
        w_train=w_train,
        class_weight=dataset.class_weight,
    )
