"""The study engine: definitions, storage, the study lifecycle, the run loop, workers, recovery, the objective.

:func:`run_study` runs a study here or in worker processes; :func:`join_study`
is one more worker, on this machine or another; both train through the same
pipeline (``search.engine._run``). The lifecycle (create, resume, reopen) lives
apart from the loop, as Optuna keeps ``study.py`` apart from ``_optimize.py``;
an existing study is opened once (:func:`open_existing`) and passed on.

Examples:
    >>> from search.engine import check_study, load_study_config
    >>> check_study(load_study_config("imdb-bow")).name
    'spaces.mlp'
"""

from search.engine._config import StudyConfig, available_studies, load_study_config
from search.engine._dashboard import format_number, learning_curves
from search.engine._opened import OpenedStudy, open_all, open_existing, shared_store
from search.engine._ranking import best_by_group, chosen_trial, count_states, is_feasible, pareto_front, ranked_trials
from search.engine._records import TrialOutcome
from search.engine._run import join_study, run_study
from search.engine._signals import stop_on_signals
from search.engine._spaces import check_sets, check_study, portfolio_sets
from search.engine._storage import closes_storages, open_storage, shown_url
from search.engine._study import load_study
from search.engine._tune import tune

__all__ = [
    "OpenedStudy",
    "StudyConfig",
    "TrialOutcome",
    "available_studies",
    "best_by_group",
    "check_sets",
    "check_study",
    "chosen_trial",
    "closes_storages",
    "count_states",
    "format_number",
    "is_feasible",
    "join_study",
    "learning_curves",
    "load_study",
    "load_study_config",
    "open_all",
    "open_existing",
    "open_storage",
    "pareto_front",
    "portfolio_sets",
    "ranked_trials",
    "run_study",
    "shared_store",
    "shown_url",
    "stop_on_signals",
    "tune",
]
