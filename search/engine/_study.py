"""A study's lifecycle: its definition checked, the study created or resumed, reopened by name.

The loop that runs trials lives in :mod:`search.engine._optimize`; the pipeline
that ties both together, in :mod:`search.engine._run`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from search.data import given_digests
from search.engine._artifacts import Artifacts, FolderArtifacts, cached_copy
from search.engine._config import StudyConfig
from search.engine._recovery import enqueue_params, requeue_stale_trial
from search.engine._storage import default_storage, open_storage
from search.errors import InputError
from search.models import LoadedSpace, load_space

if TYPE_CHECKING:
    import optuna

__all__ = [
    "PICKLED",
    "allowed_modules",
    "best_by_group",
    "check_space",
    "check_trusted",
    "chosen_trial",
    "count_finished",
    "creator_allows",
    "enqueue_definition",
    "is_feasible",
    "keep_space",
    "load_study",
    "make_pruner",
    "make_sampler",
    "objective_names",
    "open_study",
    "open_trial_storage",
    "pareto_front",
    "quiet_optuna",
    "ranked_trials",
    "replay",
    "space_changes",
    "stored_config",
    "study_data",
    "study_space",
]


def make_sampler(config: StudyConfig, *, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded with ``config.seed + offset``.

    Resuming a study with ``n`` trials uses ``offset=n``, so a resumed run is as
    reproducible as a fresh one.

    Examples:
        >>> from search.engine import load_study_config
        >>> make_sampler(load_study_config("imdb-bow")).__class__.__name__
        'TPESampler'
    """
    import optuna

    return _make(
        "sampler", config.sampler, optuna.samplers, optuna.samplers.BaseSampler, seed=(config.seed + offset) % 2**32
    )


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    """The study's pruner (``NopPruner`` disables pruning).

    Examples:
        >>> from search.engine import load_study_config
        >>> make_pruner(load_study_config("imdb-bow")).__class__.__name__
        'MedianPruner'
    """
    import optuna

    if config.multi_objective:  # Optuna's pruners rank one value; see StudyConfig.objectives
        return optuna.pruners.NopPruner()
    return _make("pruner", config.pruner, optuna.pruners, optuna.pruners.BasePruner)


def chosen_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The trial a bare ``holdout`` evaluates: the best feasible one, ``None`` before any.

    A single-objective study: ``study.best_trial`` (Optuna leaves out trials that
    break a constraint). A multi-objective one: of the Pareto front of feasible
    trials, the best on the first objective (the lowest number on a tie).

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(directions=["maximize", "minimize"])
        >>> for values in ((0.8, 10), (0.9, 500), (0.85, 5)):
        ...     _ = study.tell(study.ask(), values)
        >>> chosen_trial(study).number, [t.number for t in pareto_front(study)]
        (1, [1, 2])
    """
    if len(study.directions) == 1:
        try:
            return study.best_trial
        except ValueError:  # no complete (or no feasible) trial
            return None
    front = pareto_front(study)
    return front[0] if front else None


def pareto_front(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The feasible complete trials no other one dominates (``study.best_trials``), best first objective first."""
    return sorted(study.best_trials, key=_best_first(study))


def ranked_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The complete, feasible trials with a finite first objective, best first (the lowest number on a tie).

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(direction="maximize")
        >>> for value, size in ((0.8, 10), (0.95, 5000), (0.9, 100), (0.8, 20)):
        ...     trial = study.ask()
        ...     trial.set_constraint("max_params", size - 1000)
        ...     _ = study.tell(trial, value)
        >>> [t.number for t in ranked_trials(study)]  # trial 1 breaks its constraint
        [2, 0, 3]
    """
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.name == "COMPLETE" and t.values and math.isfinite(t.values[0])]
    return sorted((t for t in done if is_feasible(t)), key=_best_first(study))


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial meets every constraint set on it (Optuna's rule: each value 0 or below)."""
    return all(c <= 0.0 for c in trial.constraints.values())


def _best_first(study: optuna.Study) -> Callable[[optuna.trial.FrozenTrial], tuple[float, int]]:
    """A sort key: the better first objective first, the lower trial number on a tie."""
    sign = -1.0 if study.directions[0].name == "MAXIMIZE" else 1.0
    return lambda t: (sign * t.values[0], t.number)


def objective_names(study: optuna.Study, metric: str) -> list[str]:
    """The names of the study's objectives: those given to Optuna, else ``metric`` alone (older studies)."""
    return study.metric_names or [metric]


def _name_objectives(study: optuna.Study, names: list[str]) -> None:
    """Give the objectives their names (optuna-dashboard's axis and column names)."""
    import optuna

    with warnings.catch_warnings():  # experimental since Optuna 3.2, and what optuna-dashboard reads
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def _make(kind: str, table: dict[str, Any], module: ModuleType, base: type, **extra: Any) -> Any:
    """An instance of the class that ``table["name"]`` names in ``module``, with the table's other keys as options."""
    import optuna

    name = table["name"]
    cls = getattr(module, name, None)
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise InputError(f"unknown {kind} {name!r} (an {module.__name__} class name)")
    options = {k: v for k, v in table.items() if k != "name"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**extra, **options)
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid options for {kind} {name}: {exc}") from None


# Spaces given as objects in this process (a build function of a notebook, say), by the SHA-256 of their pickle.
_GIVEN_SPACES: dict[str, LoadedSpace] = {}
ARTIFACT_PREFIX = "artifact:"


def keep_space(space: LoadedSpace, digest: str) -> None:
    """Let this process resolve the stored reference of ``space`` (pickled, digest ``digest``) without reading it."""
    _GIVEN_SPACES[digest] = space


PICKLED = "pickled"
"""The name that allows a study's pickled files (a build function, stored data) in :func:`check_trusted`."""


def allowed_modules(allow: Sequence[str] = ()) -> set[str]:
    """What this process may import or unpickle for a stored definition, beyond the shipped spaces.

    ``allow`` (``--allow-module``), the comma-separated ``SEARCH_ALLOW_MODULES`` and
    the modules of installed packages' ``search.spaces`` entry points; ``pickled``
    allows a study's pickled build function and stored data.

    Examples:
        >>> sorted(allowed_modules(["my_project.spaces"]))
        ['my_project.spaces']
    """
    names = {name.strip() for name in allow if name.strip()}
    names |= {n.strip() for n in os.environ.get("SEARCH_ALLOW_MODULES", "").split(",") if n.strip()}
    names |= {ep.value.partition(":")[0] for ep in importlib.metadata.entry_points(group="search.spaces")}
    return names


def creator_allows(config: StudyConfig) -> list[str]:
    """What the process that wrote a definition trusts of it: its own space module and pickled files.

    Passed to the worker processes it starts (they read the definition from the storage).
    """
    ref = config.space_module
    allows = [PICKLED] if ref.startswith(ARTIFACT_PREFIX) or config.data.get("kind") == "stored" else []
    if not ref.startswith(ARTIFACT_PREFIX):
        allows.append(ref.partition(":")[0])
    return allows


def check_trusted(config: StudyConfig, allow: Sequence[str] = ()) -> None:
    """Refuse a stored definition that would make this process run code it was not told to trust.

    A definition read from a storage is data: its space module is imported only if
    it is shipped with this package (``spaces.*``, ``search.*``), registered by an
    installed package (entry points ``search.spaces``) or allowed here (see
    :func:`allowed_modules`); its pickled files are read only if ``pickled`` is allowed.

    Raises:
        search.InputError: One line naming the module and how to allow it.

    Examples:
        >>> from search.engine import load_study_config
        >>> check_trusted(load_study_config("iris"))
        >>> check_trusted(load_study_config("iris").replace(space={"module": "os:system"}))
        Traceback (most recent call last):
        ...
        search.errors.InputError: the study's definition names space module 'os', which this process does not trust: ...
    """
    allowed = allowed_modules(allow)
    ref = config.space_module
    given = str(config.space.get("sha256", "")) in _GIVEN_SPACES or not ref.startswith(ARTIFACT_PREFIX)
    given = given and (config.data.get("kind") != "stored" or str(config.data.get("sha256", "")) in given_digests())
    pickled = ref.startswith(ARTIFACT_PREFIX) or config.data.get("kind") == "stored"
    if pickled and PICKLED not in allowed and not given:
        raise InputError(
            "the study's build function or data are pickled files, which this process does not trust: "
            f"allow them with --allow-module {PICKLED} (or SEARCH_ALLOW_MODULES={PICKLED})"
        )
    if ref.startswith(ARTIFACT_PREFIX):
        return
    module = ref.partition(":")[0]
    shipped = module.split(".")[0] in ("spaces", "search")
    if not shipped and not any(module == name or module.startswith(name + ".") for name in allowed):
        raise InputError(
            f"the study's definition names space module {module!r}, which this process does not trust: "
            f"allow it with --allow-module {module} (or SEARCH_ALLOW_MODULES={module})"
        )


def study_space(config: StudyConfig, artifacts: Artifacts | None = None) -> LoadedSpace:
    """The space of a definition: a module or ``module:attribute`` reference, or a pickled object in the artifacts.

    A pickled space (``artifact:functions/<file>``, a build function from a script's
    ``__main__`` or a notebook) is read only when its SHA-256 is the one the study
    recorded (``space.sha256``).

    Raises:
        search.InputError: An unknown module, or a missing or altered pickle.
    """
    ref = config.space_module
    if not ref.startswith(ARTIFACT_PREFIX):
        return load_space(ref)
    digest = str(config.space.get("sha256", ""))
    if digest in _GIVEN_SPACES:
        return _GIVEN_SPACES[digest]
    import cloudpickle

    name = ref.removeprefix(ARTIFACT_PREFIX)
    if artifacts is None or not name.startswith("functions/") or ".." in name.split("/"):
        raise InputError(f"space {ref!r} is not a file of the study's artifacts")
    blob = artifacts.read(name)
    where = artifacts.describe(name)
    if blob is None:
        raise InputError(f"the study's build function {where} is missing (was the artifact store moved?)")
    if hashlib.sha256(blob).hexdigest() != digest:
        raise InputError(f"the study's build function {where} does not match the SHA-256 recorded with it; refused")
    return load_space(cloudpickle.loads(blob))


def study_data(config: StudyConfig, artifacts: Artifacts) -> dict[str, Any]:
    """The definition's ``[data]`` settings, with the local folder that ``stored`` data is read from.

    For a store that is not a folder, the data file is first copied into this
    machine's cache (its reader checks the SHA-256 the study recorded).
    """
    if config.data.get("kind") != "stored":
        return dict(config.data)
    file = str(config.data.get("file", ""))
    if isinstance(artifacts, FolderArtifacts) or not file or "/" in file or file in (".", ".."):
        root = artifacts.root if isinstance(artifacts, FolderArtifacts) else Path(artifacts.location)
        return {**config.data, "root": str(root)}
    copy = cached_copy(artifacts, f"data/{file}")
    if copy is None:
        raise InputError(f"the study's data file {artifacts.describe('data/' + file)} is missing")
    return {**config.data, "root": str(copy.parent.parent)}


def check_space(config: StudyConfig, space: LoadedSpace | None = None) -> LoadedSpace:
    """Load the space and sample it once in memory, so bad bounds fail before any write.

    A space may also define ``check(**bounds)`` to verify what its bounds name
    (e.g. that embedding modules load) before the study is written, and
    ``check_data(x_train, **bounds)`` to check its bounds against the loaded data.
    """
    import optuna

    space = space or load_space(config.space_module)
    with quiet_optuna():
        probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        sample = space.suggest(probe.ask(), config.space_bounds)
    batch = sample.get("batch_size") if isinstance(sample, dict) else None
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise InputError(
            f"space {space.name!r} must return a dict with a positive integer 'batch_size', got {sample!r}"
        )
    space.check(config.space_bounds)
    for number, params in enumerate(config.enqueue, 1):
        _check_enqueued(params, space, config.space_bounds, where=f"[[enqueue]] set {number}")
    return space


def _check_enqueued(params: dict[str, Any], space: LoadedSpace, bounds: dict[str, Any], *, where: str) -> None:
    """Refuse a parameter set the space does not have or would not sample (out of its bounds)."""
    import optuna

    try:  # out-of-range values are reported below, as errors
        trial = replay(params, space, bounds)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a choice the space does not offer
        raise InputError(f"{where}: {exc}") from None
    unknown = sorted(set(params) - set(trial.params))
    if unknown:
        raise InputError(f"{where}: the space samples no parameter {', '.join(map(repr, unknown))}")
    for name, value in params.items():
        dist = trial.distributions[name]
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            inside = value in dist.choices
        else:
            inside = isinstance(value, (int, float)) and dist.low <= value <= dist.high  # type: ignore[attr-defined]
        if not inside:
            raise InputError(f"{where}: {name}={value!r} is outside the space ({dist})")


def replay(params: dict[str, Any], space: LoadedSpace, bounds: dict[str, Any]) -> optuna.trial.Trial:
    """A trial of a throw-away in-memory study on which the space's ``suggest`` took ``params``.

    Raises whatever ``suggest`` raises for them; Optuna's warnings about values
    outside a distribution are silenced (callers compare the distributions).
    """
    import optuna

    with quiet_optuna(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replay = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        replay.enqueue_trial(params)
        trial = replay.ask()
        space.suggest(trial, bounds)
    return trial


def enqueue_definition(study: optuna.Study, config: StudyConfig) -> int:
    """Queue the definition's parameter sets that the study has not tried; return how many."""
    before = len(study.get_trials(deepcopy=False))
    for params in config.enqueue:
        enqueue_params(study, params, skip_if_exists=True, user_attrs={"enqueued": True})
    return len(study.get_trials(deepcopy=False)) - before


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Hide Optuna's INFO logs (e.g. of throw-away in-memory studies) inside the block."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def space_changes(study: optuna.Study, space: LoadedSpace, bounds: dict[str, Any]) -> list[str]:
    """Parameters whose distribution the current space would sample differently.

    Each earlier trial's parameters are replayed through the current ``suggest``
    in a throw-away in-memory study, and the distributions compared.
    """
    import optuna

    state = optuna.trial.TrialState
    done = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED))
    changed: set[str] = set()
    for old in {t.number: t for t in done[:3] + done[-3:]}.values():
        try:
            trial = replay(old.params, space, bounds)
        except Exception:  # a value the new space rejects
            changed.update(old.params)
            continue
        new = trial.distributions
        for name in set(new) | set(old.distributions):
            if new.get(name) != old.distributions.get(name):
                changed.add(name)
    return sorted(changed)


def open_study(
    config: StudyConfig, storage: optuna.storages.BaseStorage, space: LoadedSpace, *, allow_changes: bool
) -> optuna.Study:
    import optuna

    summaries = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    existing = summaries.get(config.name)
    if existing is None:
        study = optuna.create_study(
            study_name=config.name,
            storage=storage,
            sampler=make_sampler(config),
            pruner=make_pruner(config),
            directions=config.directions,  # type: ignore[arg-type]  # validated by load_study_config
        )
        _name_objectives(study, config.objective_names)
        study.set_user_attr("definition", _jsonable(config.fingerprint()))
        study.set_user_attr("config", _jsonable(config.__dict__))
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
    current = _jsonable(config.fingerprint())
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
    if study.user_attrs.get("config") != _jsonable(config.__dict__):
        study.set_user_attr("config", _jsonable(config.__dict__))  # e.g. a new budget, for joining workers
    return study


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def open_trial_storage(url: str, *, must_exist: bool = False) -> optuna.storages.BaseStorage:
    """The storage, for a process that runs trials: a trial whose worker went silent is re-queued once."""
    return open_storage(url, must_exist=must_exist, failed_trial_callback=requeue_stale_trial)


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
        InputError: No such storage or study.

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
    import optuna

    url = storage or default_storage()
    storage_obj = open_trial_storage(url, must_exist=True)
    summaries = {s.study_name: s for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False)}
    if name not in summaries:
        raise InputError(f"no study {name!r} in {url} (studies there: {', '.join(summaries) or 'none'})")
    if not for_trials:
        return optuna.load_study(study_name=name, storage=storage_obj), url
    config = _config_from_attrs(name, summaries[name].user_attrs)
    study = optuna.load_study(
        study_name=name,
        storage=storage_obj,
        sampler=make_sampler(config, offset=summaries[name].n_trials + seed_offset),
        pruner=make_pruner(config),
    )
    return study, url


def stored_config(study: optuna.Study) -> StudyConfig:
    """The definition a study was started (or last resumed) with.

    Raises:
        InputError: The study was not created by this tool.
    """
    return _config_from_attrs(study.study_name, study.user_attrs)


def _config_from_attrs(name: str, user_attrs: dict[str, Any]) -> StudyConfig:
    fields = user_attrs.get("config")
    if not fields:
        raise InputError(f"study {name!r} has no stored definition (not created by python -m search)")
    return StudyConfig(**fields)


def count_finished(study: optuna.Study) -> int:
    import optuna

    state = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED)))


def best_by_group(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """Best completed trial of each group that the space's ``group`` hook labelled trials with.

    Returns:
        e.g. ``{"frozen embeddings": {"value": ..., "trial": ...}, "fine-tuned embeddings": {...}}``
        for ``spaces.text``, in label order, with only the groups that have a
        completed trial; empty for spaces without the hook.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(direction="maximize")
        >>> for value, group in ((0.8, "a"), (0.9, "a"), (0.7, "b")):
        ...     trial = study.ask()
        ...     trial.set_user_attr("group", group)
        ...     _ = study.tell(trial, value)
        >>> best_by_group(study)
        {'a': {'value': 0.9, 'trial': 1}, 'b': {'value': 0.7, 'trial': 2}}
    """
    sign = 1.0 if study.directions[0].name.lower() == "maximize" else -1.0
    best: dict[str, dict[str, Any]] = {}
    for trial in study.get_trials(deepcopy=False):
        group = trial.user_attrs.get("group")
        if trial.state.name != "COMPLETE" or group is None or not trial.values or not is_feasible(trial):
            continue
        value = trial.values[0]  # the first objective, for a multi-objective study
        if group not in best or sign * value > sign * best[group]["value"]:
            best[group] = {"value": value, "trial": trial.number}
    return dict(sorted(best.items()))
