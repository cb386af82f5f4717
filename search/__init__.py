"""Hyperparameter search for Keras models on Optuna.

Launch a study, stop and resume it at will, watch it in optuna-dashboard, and
end with one honest evaluation on held-out data. This top level holds what a
user calls; each stage's full API is in its subpackage: :mod:`search.data`,
:mod:`search.models`, :mod:`search.engine`, :mod:`search.results`, and the
contract suite :mod:`search.testing`.

Examples:
    >>> import tempfile
    >>> from search import evaluate_holdout, run_study
    >>> storage = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
    >>> study = run_study("iris", n_trials=2, storage=storage, show_progress=False, overrides={"max_epochs": 3})
    >>> result = evaluate_holdout("iris", storage=storage, show_progress=False)
    >>> result["n_test"], 0.0 <= result["accuracy"] <= 1.0
    (30, True)
"""

from search.data import Dataset, Task, register_loader
from search.engine import StudyConfig, available_studies, join_study, load_study, load_study_config, run_study, tune
from search.errors import InputError, RunError, SearchError
from search.models import Space
from search.results import Predictor, evaluate_holdout, list_studies, load_predictor, write_report

__all__ = [
    "Dataset",
    "InputError",
    "Predictor",
    "RunError",
    "SearchError",
    "Space",
    "StudyConfig",
    "Task",
    "available_studies",
    "evaluate_holdout",
    "join_study",
    "list_studies",
    "load_predictor",
    "load_study",
    "load_study_config",
    "register_loader",
    "run_study",
    "tune",
    "write_report",
]
