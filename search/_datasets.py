"""Study data: the search split (train/validation) and the holdout split (all train/test).

Trials only ever receive :class:`SearchData`; the test split is loaded by
:func:`load_holdout_data` alone.

A loader may return raw rows (e.g. a pandas ``DataFrame``) with an *unfitted*
scikit-learn ``preprocessor``. Preprocessing is then part of training, never of
loading: :func:`load_search_data` fits a clone on the partial-train rows only
(validation rows are transformed, as unseen data would be), and
:func:`load_holdout_data` fits another clone on all training rows, the rows the
holdout model is trained on, and only transforms the test rows. The holdout's
fitted preprocessor is what is saved beside the holdout model. Loaders that
return ready arrays (``imdb-bow``: its vocabulary already comes from training
reviews alone) leave ``preprocessor`` at ``None`` and are used as they are.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from search._errors import SearchError
from search._task import Task

__all__ = [
    "Dataset",
    "HoldoutData",
    "SearchData",
    "load_holdout_data",
    "load_search_data",
    "register_loader",
    "split_train_validation",
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

    Example:
        >>> Dataset(x_train=np.zeros((4, 2)), y_train=np.zeros(4), x_test=np.zeros((2, 2)), y_test=np.zeros(2),
        ...         task=Task("binary"), train_ids=list("abcd"), test_ids=list("ef")).preprocessor is None
        True
    """

    x_train: Any
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    task: Task
    train_ids: list[str]
    test_ids: list[str]
    class_names: list[str] = dataclasses.field(default_factory=list)
    preprocessor: Any = None
    schema: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SearchData:
    """What a trial sees: partial-train and validation arrays, never the test split.

    ``preprocessor`` is the loader's preprocessing fitted on the partial-train rows
    (``None`` for data that needs none).
    """

    x_train: Any
    y_train: np.ndarray
    x_val: Any
    y_val: np.ndarray
    task: Task
    train_ids: list[str]
    val_ids: list[str]
    preprocessor: Any = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


@dataclasses.dataclass(frozen=True)
class HoldoutData:
    """What the holdout evaluation sees: all training examples and the test split.

    ``preprocessor`` is the loader's preprocessing fitted on all training rows
    (``None`` for data that needs none); ``schema`` describes the raw columns.
    """

    x_train: Any
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    task: Task
    class_names: list[str]
    preprocessor: Any = None
    schema: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def split_train_validation(
    labels: np.ndarray, *, validation_size: int | float, seed: int, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle split of example indices into partial-train and validation.

    Stratified on ``labels`` for classification, so the validation set keeps the
    class balance even when the source is sorted by label.

    Example:
        >>> train, val = split_train_validation(np.array([0] * 50 + [1] * 50), validation_size=20, seed=0)
        >>> len(train), len(val)
        (80, 20)
    """
    from sklearn.model_selection import train_test_split

    n = len(labels)
    if isinstance(validation_size, int) and not 0 < validation_size < n:
        raise SearchError(f"validation_size must be between 1 and {n - 1}, got {validation_size}")
    if isinstance(validation_size, float) and not 0.0 < validation_size < 1.0:
        raise SearchError(f"validation_size as a fraction must be in (0, 1), got {validation_size}")
    n_val = validation_size if isinstance(validation_size, int) else math.ceil(validation_size * n)
    if stratify and not _can_stratify(labels, n_val):
        stratify = False  # a class too rare to be in both parts: a plain seeded shuffle
    train, val = train_test_split(
        np.arange(n), test_size=validation_size, random_state=seed, stratify=labels if stratify else None
    )
    return np.sort(train), np.sort(val)


def _can_stratify(labels: np.ndarray, n_val: int) -> bool:
    _, counts = np.unique(labels, return_counts=True)
    return bool(counts.min() >= 2 and len(counts) <= min(n_val, len(labels) - n_val))


def _load_imdb_bow(settings: dict[str, Any], seed: int) -> Dataset:
    from search._bow import load_imdb_bow

    known = {"kind", "source", "vocab_size", "mode", "ngrams", "validation_size", "subset"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SearchError(f"unknown [data] setting(s) for imdb-bow: {', '.join(unknown)}")
    arrays = load_imdb_bow(
        source=settings.get("source", "archive"),
        vocab_size=settings.get("vocab_size", 10000),
        mode=settings.get("mode", "multi-hot"),
        ngrams=settings.get("ngrams", 1),
    )
    return _bow_dataset(arrays, settings, seed, dense=True)


def _bow_dataset(arrays: Any, settings: dict[str, Any], seed: int, *, dense: bool) -> Dataset:
    """A :class:`Dataset` of IMDB bag-of-words rows (``BowArrays``), subsampled when ``subset`` asks.

    ``dense``: the rows as dense ``float32`` arrays (``imdb-bow``'s multi-hot MLP),
    else as they are (sparse, for ``spaces.bow``).
    """
    train_rows, test_rows = np.arange(len(arrays.y_train)), np.arange(len(arrays.y_test))
    subset = settings.get("subset")
    if subset:  # a smaller, still balanced, sample of each split for quick runs
        train_rows = _subsample(arrays.y_train, subset, seed)
        test_rows = _subsample(arrays.y_test, subset, seed)
    x_train, x_test = arrays.x_train[train_rows], arrays.x_test[test_rows]
    if dense:
        x_train, x_test = x_train.toarray(), x_test.toarray()
    return Dataset(
        x_train=x_train,
        y_train=arrays.y_train[train_rows].astype(np.float32),
        x_test=x_test,
        y_test=arrays.y_test[test_rows].astype(np.float32),
        task=Task("binary"),
        train_ids=[arrays.train_ids[i] for i in train_rows],
        test_ids=[arrays.test_ids[i] for i in test_rows],
        class_names=["negative", "positive"],
    )


def _load_imdb_ngrams(settings: dict[str, Any], seed: int) -> Dataset:
    """IMDB term counts for a search over the representation (see ``spaces.bow``)."""
    from search._bow import load_imdb_ngrams

    known = {"kind", "max_vocab", "ngrams", "validation_size", "subset"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SearchError(f"unknown [data] setting(s) for imdb-ngrams: {', '.join(unknown)}")
    max_vocab = settings.get("max_vocab", 50000)
    ngrams = settings.get("ngrams", [1, 2])
    if not isinstance(ngrams, list) or not ngrams or not set(ngrams) <= {1, 2, 3}:
        raise SearchError(f"[data] ngrams must be a list of longest n-grams from 1 to 3, got {ngrams!r}")
    arrays = load_imdb_ngrams(max_vocab=max_vocab, ngrams=tuple(sorted(set(ngrams))))
    return _bow_dataset(arrays, settings, seed, dense=False)


def _load_imdb_text(settings: dict[str, Any], seed: int) -> Dataset:
    from search._imdb import find_imdb, read_imdb

    known = {"kind", "source", "validation_size", "subset"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SearchError(f"unknown [data] setting(s) for imdb-text: {', '.join(unknown)}")
    if settings.get("source", "archive") != "archive":
        raise SearchError(f"imdb-text reads the aclImdb archive only (source = 'archive'), got {settings['source']!r}")
    splits = read_imdb(find_imdb())
    train, test = splits["train"], splits["test"]
    train_rows = np.arange(len(train.texts))
    test_rows = np.arange(len(test.texts))
    subset = settings.get("subset")
    if subset:  # the same balanced sample of each split as imdb-bow takes
        train_rows = _subsample(train.labels, subset, seed)
        test_rows = _subsample(test.labels, subset, seed)
    return Dataset(
        x_train=np.array([train.texts[i] for i in train_rows], dtype=object),
        y_train=train.labels[train_rows].astype(np.float32),
        x_test=np.array([test.texts[i] for i in test_rows], dtype=object),
        y_test=test.labels[test_rows].astype(np.float32),
        task=Task("binary"),
        train_ids=[train.ids[i] for i in train_rows],
        test_ids=[test.ids[i] for i in test_rows],
        class_names=["negative", "positive"],
    )


def _subsample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    if size >= len(labels):
        return np.arange(len(labels))
    _, rows = split_train_validation(labels, validation_size=int(size), seed=seed)
    return rows


def _load_csv(settings: dict[str, Any], seed: int) -> Dataset:
    from search._tabular import load_csv

    return load_csv(settings, seed)


def _load_iris(settings: dict[str, Any], seed: int) -> Dataset:
    from search._tabular import load_iris

    return load_iris(settings, seed)


def _load_auto_mpg(settings: dict[str, Any], seed: int) -> Dataset:
    from search._tabular import load_auto_mpg

    return load_auto_mpg(settings, seed)


_LOADERS: dict[str, Callable[[dict[str, Any], int], Dataset]] = {
    "imdb-bow": _load_imdb_bow,
    "imdb-text": _load_imdb_text,
    "imdb-ngrams": _load_imdb_ngrams,
    "csv": _load_csv,
    "iris": _load_iris,
    "auto-mpg": _load_auto_mpg,
}


def register_loader(kind: str, loader: Callable[[dict[str, Any], int], Dataset]) -> None:
    """Make ``[data] kind = "<kind>"`` load with ``loader(settings, seed) -> Dataset``.

    A loader returns ready arrays, or raw rows with an unfitted ``preprocessor``
    (see the module docstring) that is fitted on training rows only.

    Example:
        >>> register_loader("my-data", lambda settings, seed: Dataset(...))  # doctest: +SKIP
    """
    _LOADERS[kind] = loader


# Loaders in other modules, imported on first use.
_LAZY_LOADERS = {"synthetic": ("search._synthetic", "load_synthetic")}


def _load(settings: dict[str, Any], seed: int) -> Dataset:
    kind = settings.get("kind")
    if kind in _LAZY_LOADERS and kind not in _LOADERS:
        module, name = _LAZY_LOADERS[kind]
        _LOADERS[kind] = getattr(importlib.import_module(module), name)
    if kind not in _LOADERS:
        raise SearchError(f"unknown data kind {kind!r} (known: {', '.join(sorted({*_LOADERS, *_LAZY_LOADERS}))})")
    return _LOADERS[kind](settings, seed)


def load_search_data(settings: dict[str, Any], *, seed: int) -> SearchData:
    """Load the data of a study and split its training part into partial-train and validation.

    Args:
        settings: The study's ``[data]`` table.
        seed: Seed of the split.

    Raises:
        SearchError: Unknown data kind or unavailable data.

    Example:
        >>> data = load_search_data({"kind": "imdb-bow"}, seed=42)  # doctest: +SKIP
        >>> data.x_train.shape, data.x_val.shape  # doctest: +SKIP
        ((15000, 10000), (10000, 10000))
    """
    dataset = _load(settings, seed)
    stratify = dataset.task.kind != "regression"
    validation_size = settings.get("validation_size", 0.2)
    train, val = split_train_validation(dataset.y_train, validation_size=validation_size, seed=seed, stratify=stratify)
    x_train, x_val = _rows(dataset.x_train, train), _rows(dataset.x_train, val)
    fitted = None
    if dataset.preprocessor is not None:
        fitted, (x_train, x_val) = _fit_transform(dataset.preprocessor, x_train, x_val)
    return SearchData(
        x_train=x_train,
        y_train=dataset.y_train[train],
        x_val=x_val,
        y_val=dataset.y_train[val],
        task=dataset.task,
        train_ids=[dataset.train_ids[i] for i in train],
        val_ids=[dataset.train_ids[i] for i in val],
        preprocessor=fitted,
    )


def load_holdout_data(settings: dict[str, Any], *, seed: int) -> HoldoutData:
    """Load all training examples and the untouched test split of a study.

    Example:
        >>> data = load_holdout_data({"kind": "imdb-bow"}, seed=42)  # doctest: +SKIP
        >>> data.x_test.shape  # doctest: +SKIP
        (25000, 10000)
    """
    dataset = _load(settings, seed)
    x_train, x_test, fitted = dataset.x_train, dataset.x_test, None
    if dataset.preprocessor is not None:
        fitted, (x_train, x_test) = _fit_transform(dataset.preprocessor, x_train, x_test)
    return HoldoutData(
        x_train=x_train,
        y_train=dataset.y_train,
        x_test=x_test,
        y_test=dataset.y_test,
        task=dataset.task,
        class_names=dataset.class_names,
        preprocessor=fitted,
        schema=dataset.schema,
    )


def _rows(x: Any, rows: np.ndarray) -> Any:
    """Rows of an array, a sparse matrix or a pandas frame (by position)."""
    return x.iloc[rows].reset_index(drop=True) if hasattr(x, "iloc") else x[rows]


def _fit_transform(template: Any, fit_rows: Any, other_rows: Any) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    """Fit a fresh clone of ``template`` on ``fit_rows``; both parts as dense ``float32`` arrays."""
    from sklearn.base import clone

    fitted = clone(template).fit(fit_rows)
    return fitted, (as_features(fitted.transform(fit_rows)), as_features(fitted.transform(other_rows)))


def as_features(x: Any) -> np.ndarray:
    """A transformer's output as a dense ``float32`` array (the models' input type).

    Example:
        >>> as_features([[1, 2]]).dtype
        dtype('float32')
    """
    if hasattr(x, "toarray"):
        x = x.toarray()
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32))
