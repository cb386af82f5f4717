"""Data: the records loaders return, the loader registry, and the shipped loaders (IMDB, tabular, synthetic).

Examples:
    >>> from search.data import load_search_data
    >>> load_search_data({"kind": "iris"}, seed=0).task
    Task(kind='multiclass', n_classes=3)
"""

from search.data._bow import NgramRows, load_imdb_bow
from search.data._imdb import find_imdb, read_imdb
from search.data._loaders import load_holdout_data, load_search_data, register_loader
from search.data._memory import dataset_from_memory, given_digests, is_stream, keep_dataset
from search.data._paths import cache_dir, home_dir, name_key, settings_key
from search.data._records import (
    Dataset,
    HoldoutData,
    SearchData,
    as_features,
    check_settings,
    fit_transform,
    rows,
)
from search.data._tabular import read_csv
from search.data._task import Task

__all__ = [
    "Dataset",
    "HoldoutData",
    "NgramRows",
    "SearchData",
    "Task",
    "as_features",
    "cache_dir",
    "check_settings",
    "dataset_from_memory",
    "find_imdb",
    "fit_transform",
    "given_digests",
    "home_dir",
    "is_stream",
    "keep_dataset",
    "load_holdout_data",
    "load_imdb_bow",
    "load_search_data",
    "name_key",
    "read_csv",
    "read_imdb",
    "register_loader",
    "rows",
    "settings_key",
]
