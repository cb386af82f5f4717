"""Data: the records loaders return, the loader registry, and the shipped loaders (IMDB, tabular, synthetic).

Examples:
    >>> from search.data import load_search_data
    >>> load_search_data({"kind": "iris"}, seed=0).task
    Task(kind='multiclass', n_classes=3)
"""

from search.data._bow import NgramRows, check_mode, load_imdb_bow, load_imdb_ngrams, nb_ratio, represent
from search.data._imdb import find_imdb, read_imdb
from search.data._loaders import Loader, known_kinds, load_holdout_data, load_search_data, register_loader
from search.data._memory import (
    dataset_from_memory,
    file_sha256,
    given_digests,
    infer_task,
    is_stream,
    keep_dataset,
    serialize_dataset,
)
from search.data._paths import cache_dir, data_dir, home_dir, name_key, settings_key
from search.data._records import (
    Dataset,
    HoldoutData,
    SearchData,
    as_features,
    check_settings,
    concat,
    cv_folds,
    fit_transform,
    rows,
    split_train_validation,
)
from search.data._tabular import read_csv, tabular_dataset
from search.data._task import Task

__all__ = [
    "Dataset",
    "HoldoutData",
    "Loader",
    "NgramRows",
    "SearchData",
    "Task",
    "as_features",
    "cache_dir",
    "check_mode",
    "check_settings",
    "concat",
    "cv_folds",
    "data_dir",
    "dataset_from_memory",
    "file_sha256",
    "find_imdb",
    "fit_transform",
    "given_digests",
    "home_dir",
    "infer_task",
    "is_stream",
    "keep_dataset",
    "known_kinds",
    "load_holdout_data",
    "load_imdb_bow",
    "load_imdb_ngrams",
    "load_search_data",
    "name_key",
    "nb_ratio",
    "read_csv",
    "read_imdb",
    "register_loader",
    "represent",
    "rows",
    "serialize_dataset",
    "settings_key",
    "split_train_validation",
    "tabular_dataset",
]
