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
    >>> write_report("imdb-bow")  # doctest: +SKIP
    PosixPath('.../studies.db.artifacts/reports/imdb-bow.html')
"""

from __future__ import annotations

from typing import Any

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
from search._embeddings import (
    DEFAULT_TEXT_HANDLE,
    TextModule,
    export_text_embedding,
    load_text_module,
    pretrain_imdb_vectors,
    pretrain_text_embedding,
    read_word_vectors,
    resolve_text_handle,
)
from search._errors import SearchError
from search._holdout import evaluate_holdout, holdout_metrics
from search._html_report import write_report
from search._objective import Objective
from search._predictor import Predictor, load_predictor
from search._report import format_holdout, list_studies, study_summary
from search._storage import artifact_dir, default_storage, open_storage, sqlite_path
from search._study import load_study, make_pruner, make_sampler, run_study, stored_config
from search._task import Task
from search._worker import join_study

__all__ = [
    "DEFAULT_TEXT_HANDLE",
    "Dataset",
    "HoldoutData",
    "HubTextEmbedding",
    "InputDropout",
    "Objective",
    "Predictor",
    "SearchData",
    "SearchError",
    "SparseDropout",
    "StudyConfig",
    "Task",
    "TextModule",
    "artifact_dir",
    "available_studies",
    "default_storage",
    "evaluate_holdout",
    "export_text_embedding",
    "format_holdout",
    "holdout_metrics",
    "join_study",
    "list_studies",
    "load_holdout_data",
    "load_predictor",
    "load_search_data",
    "load_study",
    "load_study_config",
    "load_text_module",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "pretrain_imdb_vectors",
    "pretrain_text_embedding",
    "read_word_vectors",
    "register_loader",
    "resolve_text_handle",
    "run_study",
    "split_train_validation",
    "sqlite_path",
    "stored_config",
    "study_summary",
    "write_report",
]


def __getattr__(name: str) -> Any:
    # The Keras layers import Keras: only when asked for, so `import search` stays fast.
    if name == "HubTextEmbedding":
        from search._hub import HubTextEmbedding

        return HubTextEmbedding
    if name in ("InputDropout", "SparseDropout"):
        from search import _layers

        return getattr(_layers, name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")
