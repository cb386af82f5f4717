"""A study's lifecycle: created or resumed from its definition, reopened by name.

The loop that runs trials lives in :mod:`search.engine._optimize`; the pipeline
that ties both together, in :mod:`search.engine._run`. The sampler and pruner
come from :mod:`search.engine._samplers`, the space from
:mod:`search.engine._spaces`, what a stored definition may run is decided by
:mod:`search.engine._trust`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from search.engine._config import StudyConfig
from search.engine._ranking import count_finished
from search.engine._recovery import enqueue_params, requeue_stale_trial
from search.engine._samplers import make_pruner, make_sampler
from search.engine._spaces import portfolio_sets, space_changes
from search.engine._storage import closes_storages, open_storage, redact, resolve_storage
from search.errors import InputError
from search.models import LoadedSpace

if TYPE_CHECKING:
    import optuna

__all__ = [
    "enqueue_definition",
    "enqueue_portfolio",
    "find_study",
    "load_study",
    "open_study",
    "open_trial_storage",
    "stored_config",
]


def _name_objectives(study: optuna.Study, names: list[str]) -> None:
    """Give the objectives their names (optuna-dashboard's axis and column names)."""
    import optuna

    with warnings.catch_warnings():  # experimental since Optuna 3.2, and what optuna-dashboard reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def enqueue_definition(study: optuna.Study, config: StudyConfig) -> int:
    """Queue the definition's parameter sets that the study has not tried; return how many."""
    before = len(study.get_trials(deepcopy=False))
    for params in config.enqueue:
        enqueue_params(study, params, skip_if_exists=True, user_attrs={"enqueued": True})
    return len(study.get_trials(deepcopy=False)) - before


def enqueue_portfolio(study: optuna.Study, config: StudyConfig, space: LoadedSpace) -> int:
    """Queue the space's portfolio (within the study's bounds) as a new study's first trials; return how many.

    Only for a study with no trial yet whose definition asks for it (``portfolio``, the default)
    and queues no sets of its own (``[[enqueue]]`` replaces the portfolio); no more sets than the
    study's budget of trials.

    Examples:
        >>> import optuna
        >>> from search.engine import load_study_config
        >>> from search.models import load_space
        >>> study = optuna.create_study(direction="maximize")
        >>> enqueue_portfolio(study, load_study_config("auto-mpg"), load_space("spaces.mlp"))
        4
    """
    if not config.portfolio or config.enqueue or study.get_trials(deepcopy=False):
        return 0
    sets = portfolio_sets(space, config.space_bounds)[: config.trials]  # no more than the budget runs
    for params in sets:
        # skip_if_exists: a set that another run just queued for this new study is not queued again
        enqueue_params(study, params, skip_if_exists=True, user_attrs={"portfolio": True})
    return len(sets)


def open_study(
    config: StudyConfig, storage: optuna.storages.BaseStorage, space: LoadedSpace, *, allow_changes: bool
) -> optuna.Study:
    """Create the study of ``config`` in ``storage``, or resume it when it exists with the same definition.

    A new study gets the definition's objectives (names and directions), its
    fingerprint (``definition``) and the whole validated definition (``config``)
    as user attributes, what every process that joins it reads. An existing one
    must have the same directions and, unless ``allow_changes``, the same
    fingerprint and a space that samples its earlier trials' parameters alike;
    its stored definition is brought up to date (a new budget, say) only when
    trials are left to run.

    Raises:
        search.InputError: Another direction, or another definition without ``allow_changes``.
    """
    import optuna

    summaries = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    existing = summaries.get(config.name)
    if existing is None:
        study = optuna.create_study(
            study_name=config.name,
            storage=storage,
            sampler=make_sampler(config),
            pruner=make_pruner(config),
            directions=config.directions,  # type: ignore[arg-type]  # validated: maximize or minimize
        )
        _name_objectives(study, config.objective_names)
        study.set_user_attr("definition", config.fingerprint())
        study.set_user_attr("config", config.stored())
        study.set_user_attr("seed", config.seed)
        return study
    directions = [d.name.lower() for d in existing.directions]
    if directions != config.directions:
        shown = " and ".join(directions)
        raise InputError(f"study {config.name!r} exists with direction {shown}, not {' and '.join(config.directions)}")
    study = optuna.load_study(
        study_name=config.name,
        storage=storage,
        sampler=make_sampler(config, offset=existing.n_trials),
        pruner=make_pruner(config),
    )
    stored = study.user_attrs.get("definition", {})
    stored = stored if isinstance(stored, dict) else {}
    current = config.fingerprint()
    differing = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
    space_changed = space_changes(study, space, config.space_bounds)
    if (differing or space_changed) and not allow_changes:
        parts = [f"settings {', '.join(differing)}"] if differing else []
        parts += [f"space parameters {', '.join(space_changed)}"] if space_changed else []
        what = "; ".join(parts)
        raise InputError(
            f"study {config.name!r} was started with a different definition ({what}); "
            "use another study name, or --allow-changes to resume anyway"
        )
    if count_finished(study) >= config.trials:
        return study  # the budget is reached: nothing trains, so the stored definition stays as it was
    if differing:
        study.set_user_attr("definition", current)
    if study.metric_names != config.objective_names:  # renamed with --allow-changes
        _name_objectives(study, config.objective_names)
    if study.user_attrs.get("config") != config.stored():
        study.set_user_attr("config", config.stored())  # e.g. a new budget, for joining workers
    return study


def open_trial_storage(url: str, *, must_exist: bool = False) -> optuna.storages.BaseStorage:
    """The storage, for a process that runs trials: a trial whose worker went silent is re-queued once."""
    return open_storage(url, must_exist=must_exist, failed_trial_callback=requeue_stale_trial)


@closes_storages
def load_study(
    name: str, *, storage: str | None = None, for_trials: bool = False, seed_offset: int = 0
) -> tuple[optuna.Study, str]:
    """Open an existing study.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.
        for_trials: Attach the sampler and pruner of the study's stored definition
            (what a worker that runs trials needs; Optuna's own defaults otherwise),
            the sampler seeded with ``seed + trials so far + seed_offset``.
        seed_offset: Added to the sampler's seed, so that workers joining at the
            same moment do not sample the same parameters.

    Returns:
        ``(study, storage_url)``.

    Raises:
        InputError: No such storage or study, or (``for_trials``) a stored definition the schema refuses.

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> _ = optuna.create_study(study_name="demo", storage=url)
        >>> study, same_url = load_study("demo", storage=url)
        >>> study.study_name, same_url == url
        ('demo', True)
        >>> load_study("imdb-bowl", storage=url)
        Traceback (most recent call last):
        ...
        search.errors.InputError: no study 'imdb-bowl' in sqlite:///... (studies there: demo)
    """
    study, url, _ = find_study(name, storage=storage, for_trials=for_trials, seed_offset=seed_offset)
    return study, url


def find_study(
    name: str, *, storage: str | None = None, for_trials: bool = False, seed_offset: int = 0
) -> tuple[optuna.Study, str, optuna.storages.BaseStorage]:
    """:func:`load_study`, with the storage object the study was loaded from."""
    import optuna

    url = resolve_storage(storage)
    storage_obj = open_trial_storage(url, must_exist=True)
    summaries = {s.study_name: s for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False)}
    if name not in summaries:
        raise InputError(f"no study {name!r} in {redact(url)} (studies there: {', '.join(summaries) or 'none'})")
    if not for_trials:
        return optuna.load_study(study_name=name, storage=storage_obj), url, storage_obj
    config = StudyConfig.from_stored(name, summaries[name].user_attrs.get("config"))
    study = optuna.load_study(
        study_name=name,
        storage=storage_obj,
        sampler=make_sampler(config, offset=summaries[name].n_trials + seed_offset),
        pruner=make_pruner(config),
    )
    return study, url, storage_obj


def stored_config(study: optuna.Study) -> StudyConfig:
    """The definition a study was started (or last resumed) with, validated as a definition file is.

    Raises:
        InputError: The study was not created by this tool, or its stored definition was edited out of range.
    """
    return StudyConfig.from_stored(study.study_name, study.user_attrs.get("config"))
