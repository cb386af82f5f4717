"""The study engine: definitions, storage, the study lifecycle, the run loop, workers, recovery, the objective.

:func:`run_study` runs a study here or in worker processes; :func:`join_study`
is one more worker, on this machine or another; both train through the same
pipeline (``search.engine._run``). The lifecycle (create, resume, reopen) lives
apart from the loop, as Optuna keeps ``study.py`` apart from ``_optimize.py``.

Examples:
    >>> from search.engine import load_study_config, make_pruner
    >>> make_pruner(load_study_config("imdb-bow")).__class__.__name__
    'MedianPruner'
"""

from search.engine._artifacts import (
    ARTIFACTS_ATTR,
    Artifacts,
    FolderArtifacts,
    S3Artifacts,
    artifacts_at,
    check_location,
    default_location,
    local_copy,
    study_artifacts,
)
from search.engine._config import BACKENDS, PROPERTIES, StudyConfig, available_studies, load_study_config
from search.engine._dashboard import (
    curve_names,
    curve_trace,
    holdout_epochs,
    holdout_training,
    learning_curve_figure,
    publish_holdout_note,
    upload_confusion_matrix,
)
from search.engine._logs import quiet_optuna
from search.engine._objective import Objective
from search.engine._optimize import MemoryLimitReached, optimize_until_budget, progress_bar
from search.engine._ranking import (
    best_by_group,
    chosen_trial,
    count_states,
    is_feasible,
    objective_names,
    pareto_front,
    ranked_trials,
)
from search.engine._recovery import enqueue_params, recover_trials, requeue_failed_trial
from search.engine._run import RESTART_EXIT_STATUS, default_workers, join_study, pin_cores, run_study, worker_cores
from search.engine._samplers import make_pruner, make_sampler
from search.engine._signals import Stopped, stop_on_signals, stop_requested
from search.engine._spaces import check_space, replay, study_data, study_space
from search.engine._storage import (
    check_storage,
    close_storages,
    closes_storages,
    default_storage,
    grpc_address,
    is_proxy,
    open_storage,
    redact,
    resolve_storage,
    sqlite_path,
)
from search.engine._study import load_study, open_trial_storage, stored_config
from search.engine._trust import PICKLED, allowed_modules, check_pickle, check_trusted, creator_allows, sign
from search.engine._tune import infer_direction, tune

__all__ = [
    "ARTIFACTS_ATTR",
    "BACKENDS",
    "PICKLED",
    "PROPERTIES",
    "RESTART_EXIT_STATUS",
    "Artifacts",
    "FolderArtifacts",
    "MemoryLimitReached",
    "Objective",
    "S3Artifacts",
    "Stopped",
    "StudyConfig",
    "allowed_modules",
    "artifacts_at",
    "available_studies",
    "best_by_group",
    "check_location",
    "check_pickle",
    "check_space",
    "check_storage",
    "check_trusted",
    "chosen_trial",
    "close_storages",
    "closes_storages",
    "count_states",
    "creator_allows",
    "curve_names",
    "curve_trace",
    "default_location",
    "default_storage",
    "default_workers",
    "enqueue_params",
    "grpc_address",
    "holdout_epochs",
    "holdout_training",
    "infer_direction",
    "is_feasible",
    "is_proxy",
    "join_study",
    "learning_curve_figure",
    "load_study",
    "load_study_config",
    "local_copy",
    "make_pruner",
    "make_sampler",
    "objective_names",
    "open_storage",
    "open_trial_storage",
    "optimize_until_budget",
    "pareto_front",
    "pin_cores",
    "progress_bar",
    "publish_holdout_note",
    "quiet_optuna",
    "ranked_trials",
    "recover_trials",
    "redact",
    "replay",
    "requeue_failed_trial",
    "resolve_storage",
    "run_study",
    "sign",
    "sqlite_path",
    "stop_on_signals",
    "stop_requested",
    "stored_config",
    "study_artifacts",
    "study_data",
    "study_space",
    "tune",
    "upload_confusion_matrix",
    "worker_cores",
]
