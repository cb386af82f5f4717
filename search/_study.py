"""Create or resume a study and run it until its trial budget is reached."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from search._config import StudyConfig, load_study_config
from search._errors import SearchError
from search._storage import check_storage, default_storage, open_storage

if TYPE_CHECKING:
    import optuna

__all__ = [
    "load_study",
    "make_pruner",
    "make_sampler",
    "progress_bar",
    "run_study",
    "stored_config",
]


def make_sampler(config: StudyConfig, *, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded with ``config.seed + offset``.

    Resuming a study with ``n`` trials uses ``offset=n``, so a resumed run is as
    reproducible as a fresh one.

    Example:
        >>> make_sampler(load_study_config("imdb-bow")).__class__.__name__
        'TPESampler'
    """
    import optuna

    options = {k: v for k, v in config.sampler.items() if k != "name"}
    cls = getattr(optuna.samplers, config.sampler["name"], None)
    if not isinstance(cls, type) or not issubclass(cls, optuna.samplers.BaseSampler):
        raise SearchError(f"unknown sampler {config.sampler['name']!r} (an optuna.samplers class name)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(seed=(config.seed + offset) % 2**32, **options)  # type: ignore[call-arg]
    except TypeError as exc:
        raise SearchError(f"invalid options for sampler {config.sampler['name']}: {exc}") from None


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    """The study's pruner (``NopPruner`` disables pruning).

    Example:
        >>> make_pruner(load_study_config("imdb-bow")).__class__.__name__
        'MedianPruner'
    """
    import optuna

    options = {k: v for k, v in config.pruner.items() if k != "name"}
    cls = getattr(optuna.pruners, config.pruner["name"], None)
    if not isinstance(cls, type) or not issubclass(cls, optuna.pruners.BasePruner):
        raise SearchError(f"unknown pruner {config.pruner['name']!r} (an optuna.pruners class name)")
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise SearchError(f"invalid options for pruner {config.pruner['name']}: {exc}") from None


def _check_space(config: StudyConfig) -> ModuleType:
    """Load the space and sample it once in memory, so bad bounds fail before any write.

    A space may also define ``check(**bounds)`` to verify what its bounds name
    (e.g. that embedding modules load) before the study is written, and
    ``check_data(x_train, **bounds)`` to check its bounds against the loaded data.
    """
    import optuna

    from spaces import load_space

    space = load_space(config.space_module)
    with _quiet_optuna():
        probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        space.suggest(probe.ask(), **config.space_bounds)
    check = getattr(space, "check", None)
    if callable(check):
        check(**config.space_bounds)
    for number, params in enumerate(config.enqueue, 1):
        _check_enqueued(params, space, config.space_bounds, where=f"[[enqueue]] set {number}")
    return space


def _check_enqueued(params: dict[str, Any], space: ModuleType, bounds: dict[str, Any], *, where: str) -> None:
    """Refuse a parameter set the space does not have or would not sample (out of its bounds)."""
    import optuna

    try:  # out-of-range values are reported below, as errors
        trial = _replay(params, space, bounds)
    except SearchError:
        raise
    except (TypeError, ValueError) as exc:  # e.g. a choice the space does not offer
        raise SearchError(f"{where}: {exc}") from None
    unknown = sorted(set(params) - set(trial.params))
    if unknown:
        raise SearchError(f"{where}: the space samples no parameter {', '.join(map(repr, unknown))}")
    for name, value in params.items():
        dist = trial.distributions[name]
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            inside = value in dist.choices
        else:
            inside = isinstance(value, (int, float)) and dist.low <= value <= dist.high  # type: ignore[attr-defined]
        if not inside:
            raise SearchError(f"{where}: {name}={value!r} is outside the space ({dist})")


def _replay(params: dict[str, Any], space: ModuleType, bounds: dict[str, Any]) -> optuna.trial.Trial:
    """A trial of a throw-away in-memory study on which the space's ``suggest`` took ``params``.

    Raises whatever ``suggest`` raises for them; Optuna's warnings about values
    outside a distribution are silenced (callers compare the distributions).
    """
    import optuna

    with _quiet_optuna(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        replay = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        replay.enqueue_trial(params)
        trial = replay.ask()
        space.suggest(trial, **bounds)
    return trial


def _enqueue(study: optuna.Study, config: StudyConfig) -> int:
    """Queue the definition's parameter sets that the study has not tried; return how many."""
    from search._recovery import enqueue_params

    before = len(study.get_trials(deepcopy=False))
    for params in config.enqueue:
        enqueue_params(study, params, skip_if_exists=True, user_attrs={"enqueued": True})
    return len(study.get_trials(deepcopy=False)) - before


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Hide Optuna's INFO logs (e.g. of throw-away in-memory studies) inside the block."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def _space_changes(study: optuna.Study, space: ModuleType, bounds: dict[str, Any]) -> list[str]:
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
            trial = _replay(old.params, space, bounds)
        except Exception:  # a value the new space rejects
            changed.update(old.params)
            continue
        new = trial.distributions
        for name in set(new) | set(old.distributions):
            if new.get(name) != old.distributions.get(name):
                changed.add(name)
    return sorted(changed)


def _open_study(
    config: StudyConfig, storage: optuna.storages.BaseStorage, space: ModuleType, *, allow_changes: bool
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
            direction=config.direction,  # type: ignore[arg-type]  # validated by load_study_config
        )
        study.set_user_attr("definition", _jsonable(config.fingerprint()))
        study.set_user_attr("config", _jsonable(config.__dict__))
        study.set_user_attr("seed", config.seed)
        return study
    if existing.direction.name.lower() != config.direction:
        raise SearchError(
            f"study {config.name!r} exists with direction {existing.direction.name.lower()}, not {config.direction}"
        )
    study = optuna.load_study(
        study_name=config.name,
        storage=storage,
        sampler=make_sampler(config, offset=existing.n_trials),
        pruner=make_pruner(config),
    )
    stored = study.user_attrs.get("definition", {})
    current = _jsonable(config.fingerprint())
    differing = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
    space_changed = _space_changes(study, space, config.space_bounds)
    if (differing or space_changed) and not allow_changes:
        parts = [f"settings {', '.join(differing)}"] if differing else []
        parts += [f"space parameters {', '.join(space_changed)}"] if space_changed else []
        what = "; ".join(parts)
        raise SearchError(
            f"study {config.name!r} was started with a different definition ({what}); "
            "use another study name, or --allow-changes to resume anyway"
        )
    if differing:
        study.set_user_attr("definition", current)
    if study.user_attrs.get("config") != _jsonable(config.__dict__):
        study.set_user_attr("config", _jsonable(config.__dict__))  # e.g. a new budget, for joining workers
    return study


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


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
        SearchError: No such storage or study.

    Example:
        >>> study, url = load_study("imdb-bow")  # doctest: +SKIP
    """
    import optuna

    url = storage or default_storage()
    storage_obj = open_storage(url, must_exist=True)
    summaries = {s.study_name: s for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False)}
    if name not in summaries:
        raise SearchError(f"no study {name!r} in {url} (studies there: {', '.join(summaries) or 'none'})")
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
        SearchError: The study was not created by this tool.
    """
    return _config_from_attrs(study.study_name, study.user_attrs)


def _config_from_attrs(name: str, user_attrs: dict[str, Any]) -> StudyConfig:
    fields = user_attrs.get("config")
    if not fields:
        raise SearchError(f"study {name!r} has no stored definition (not created by python -m search)")
    return StudyConfig(**fields)


def _count_finished(study: optuna.Study) -> int:
    import optuna

    state = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED)))


def run_study(
    name: str,
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    allow_changes: bool = False,
    show_progress: bool = True,
    overrides: dict[str, Any] | None = None,
    workers: int = 1,
    memory_limit_mb: float | None = None,
) -> optuna.Study:
    """Run (or resume) a study until it has ``n_trials`` finished trials.

    The budget is a total for the study: running the same call again after an
    interruption only runs the missing trials. Trials of workers that died are
    marked failed and their parameters re-queued. Everything that can be wrong
    with the input is checked before the storage is written.

    Args:
        name: A study name from ``studies/`` or a path to a study ``.toml``.
        n_trials: Total finished (complete or pruned) trials; default from the study.
        timeout: Stop starting new trials after this many seconds.
        storage: An Optuna storage URL; default :func:`search.default_storage`.
        allow_changes: Resume even if the definition or the space changed.
        show_progress: Show a progress bar on stderr.
        overrides: Changes to the definition, e.g. ``{"data": {"vocab_size": 2000}}``.
        workers: Number of worker processes on this machine, each pinned to its
            share of the cores when there are enough; more can join from other
            machines with :func:`search.join_study` on the same storage. The
            trials also run in a worker process when Keras is already loaded here
            on another backend than the study's ``backend``.
        memory_limit_mb: Run the trials in worker processes (even with
            ``workers=1``) and start a worker again once its resident memory grew
            by this much since its first trial: TensorFlow keeps some memory of
            every model it trained, which only a new process gives back.

    Returns:
        The ``optuna.Study``.

    Raises:
        SearchError: Bad input; nothing was written.

    Example:
        >>> study = run_study("imdb-bow", n_trials=30)  # doctest: +SKIP
        >>> study.best_value  # doctest: +SKIP
        0.8912
    """

    from search._datasets import load_search_data
    from search._objective import Objective
    from search._recovery import recover_trials
    from search._training import configure_backend, use_backend
    from search._worker import RESTART_EXIT_STATUS, optimize_until_budget, spawn_worker, supervise

    configure_backend()
    changes = dict(overrides or {})
    if n_trials is not None:  # wins over a "trials" override (e.g. --set trials=5)
        changes["trials"] = n_trials
    config = load_study_config(name, **changes)
    if timeout is not None and timeout <= 0:
        raise SearchError(f"timeout must be positive, got {timeout}")
    if workers < 1:
        raise SearchError(f"workers must be at least 1, got {workers}")
    if memory_limit_mb is not None and memory_limit_mb <= 0:
        raise SearchError(f"memory limit must be positive, got {memory_limit_mb}")
    # Keras already loaded on another backend (e.g. in a notebook): the trials run in a worker process.
    in_process = use_backend(config.backend)
    space = _check_space(config)
    make_sampler(config)  # unknown names or options fail here, before any write
    make_pruner(config)
    url = storage or default_storage()
    check_storage(url)
    data = load_search_data(config.data, seed=config.seed)
    for key, name in (("metric", config.metric), ("monitor", config.monitored)):
        if name not in data.task.metric_names:
            raise SearchError(
                f"{key} {name!r} is not logged for a {data.task.kind} task "
                f"(one of: {', '.join(data.task.metric_names)})"
            )
    check_data = getattr(space, "check_data", None)
    if callable(check_data):  # e.g. a vocabulary bound larger than the prepared n-grams
        check_data(data.x_train, **config.space_bounds)
    storage_obj = open_storage(url)
    study = _open_study(config, storage_obj, space, allow_changes=allow_changes)
    print(f"study {config.name!r} in {url}", file=sys.stderr)
    requeued = recover_trials(study)
    if requeued:
        print(f"re-queued interrupted trial(s) {', '.join(map(str, requeued))}", file=sys.stderr)
    if config.enqueue and _count_finished(study) < config.trials:
        queued = _enqueue(study, config)
        if queued:
            print(f"queued {queued} parameter set(s) of the definition to try first", file=sys.stderr)

    budget = config.trials
    deadline = None if timeout is None else time.monotonic() + timeout
    if workers > 1 or memory_limit_mb is not None or not in_process:
        del data  # each worker process loads its own copy

        def start(slot: int) -> Any:
            left = None if deadline is None else max(1.0, deadline - time.monotonic())
            return spawn_worker(
                config.name,
                storage=url,
                slot=slot,
                n_slots=workers,
                backend=config.backend,
                timeout=left,
                memory_limit_mb=memory_limit_mb,
            )

        processes = [start(slot) for slot in range(workers)]
        with progress_bar(study, budget, show=show_progress) as bar, supervise(processes):
            while True:
                for i, proc in enumerate(processes):
                    # A worker that stopped at its memory limit is replaced while work is left.
                    done = _count_finished(study) >= budget or (deadline is not None and time.monotonic() > deadline)
                    if proc.poll() == RESTART_EXIT_STATUS and not done:
                        processes[i] = start(i)
                if bar is not None:
                    bar(study, None)
                if all(p.poll() is not None for p in processes):
                    break
                time.sleep(1.0)
        failed = [p.returncode for p in processes if p.returncode not in (0, RESTART_EXIT_STATUS)]
        if failed:
            raise SearchError(f"{len(failed)} of {workers} workers failed (exit status {failed[0]}); see above")
    else:
        with progress_bar(study, budget, show=show_progress, max_epochs=config.max_epochs) as bar:
            objective = Objective(
                config, data, space, storage_url=url, budget=budget, on_epoch=bar.epoch if bar else None
            )
            callbacks = [bar] if bar else []
            optimize_until_budget(study, objective, budget=budget, deadline=deadline, callbacks=callbacks)
    from search._report import best_by_trainable

    by_trainable = best_by_trainable(study)
    if by_trainable:  # e.g. frozen vs fine-tuned embeddings, kept on the study for the dashboard
        study.set_user_attr("best_by_trainable", by_trainable)
    return study


@contextlib.contextmanager
def progress_bar(
    study: optuna.Study, budget: int, *, show: bool, max_epochs: int | None = None
) -> Iterator[_Progress | None]:
    """A progress bar on stderr while the block runs (``None`` when ``show`` is false).

    The bar is an Optuna callback, and its ``epoch`` method an ``Objective``
    ``on_epoch`` hook; Optuna's per-trial log lines are hidden while it shows.
    """
    if not show:
        yield None
        return
    progress = _Progress(study, budget, max_epochs=max_epochs)
    try:
        with _quiet_optuna():
            yield progress
    finally:
        progress.close()


class _Progress:
    """A tqdm bar over the study's whole budget: finished trials, elapsed time, ETA, best value.

    The ETA is the mean time per finished trial of this run (``smoothing=0``: trial
    lengths vary too much for a moving average) times the trials left. The bar
    also shows the running trial's epoch, refreshed after every epoch, so a long
    trial does not look like a hang.
    """

    _FORMAT = (
        "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} trials [{elapsed} elapsed, ETA {remaining}{postfix}]"
    )

    def __init__(self, study: optuna.Study, budget: int, *, max_epochs: int | None = None) -> None:
        from tqdm.auto import tqdm

        self._budget = budget
        self._max_epochs = max_epochs
        self._best = ""
        self._bar = tqdm(
            total=budget,
            initial=min(budget, _count_finished(study)),
            desc=study.study_name,
            unit="trial",
            file=sys.stderr,
            smoothing=0,
            bar_format=self._FORMAT,
        )
        self._show_best(study)

    def _show_best(self, study: optuna.Study, running: str = "") -> None:
        with contextlib.suppress(ValueError):  # no complete trial yet
            self._best = f"best={study.best_value:.4f} (trial {study.best_trial.number})"
        self._bar.set_postfix_str(", ".join(p for p in (self._best, running) if p))

    def epoch(self, number: int, epoch: int, history: dict[str, list[float]]) -> None:
        """Show the running trial's progress (an ``Objective`` ``on_epoch`` hook)."""
        of = f"/{self._max_epochs}" if self._max_epochs else ""
        running = f"trial {number} epoch {epoch + 1}{of}"
        self._bar.set_postfix_str(", ".join(p for p in (self._best, running) if p))

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial | None) -> None:
        # Counted in the storage, so trials of other workers move the bar too.
        self._bar.n = min(self._budget, _count_finished(study))
        self._show_best(study)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()
