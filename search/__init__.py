"""Hyperparameter search for Keras models on Optuna.

Launch a study, stop and resume it at will, watch it in optuna-dashboard, and
end with one honest evaluation on held-out data. Tabular studies (``iris``,
``auto-mpg``, any CSV) also save their fitted preprocessing, and
:func:`load_predictor` predicts from raw rows.

Example:
    >>> from search import run_study, evaluate_holdout
    >>> study = run_study("imdb-bow", n_trials=30)  # doctest: +SKIP
    >>> evaluate_holdout("imdb-bow")["accuracy"]  # doctest: +SKIP
    0.8893
"""

from __future__ import annotations

from search._config import StudyConfig, available_studies, load_study_config
from search._datasets import (
    Dataset,
    HoldoutData,
    SearchData,
    load_holdout_data,
    load_search_data,
    register_loader,
    split_train_validation,
)
from search._errors import SearchError
from search._holdout import evaluate_holdout, holdout_metrics
from search._objective import Objective
from search._predictor import Predictor, load_predictor
from search._report import format_holdout, list_studies, study_summary
from search._storage import artifact_dir, default_storage, open_storage, sqlite_path
from search._study import load_study, make_pruner, make_sampler, run_study, stored_config
from search._task import Task

__all__ = [
    "Dataset",
    "HoldoutData",
    "Objective",
    "Predictor",
    "SearchData",
    "SearchError",
    "StudyConfig",
    "Task",
    "artifact_dir",
    "available_studies",
    "default_storage",
    "evaluate_holdout",
    "format_holdout",
    "holdout_metrics",
    "list_studies",
    "load_holdout_data",
    "load_predictor",
    "load_search_data",
    "load_study",
    "load_study_config",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "register_loader",
    "run_study",
    "split_train_validation",
    "sqlite_path",
    "stored_config",
    "study_summary",
]
