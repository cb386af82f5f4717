"""The pipeline: one path from a study's definition to its trials, in this process or in worker processes.

:func:`run_study` checks everything, creates or resumes the study, and then works
on it: here, or in worker processes that each run :func:`join_study`, the same
library function that a worker on another machine runs
(``python -m search worker`` is a thin shell over it). Every path trains through
:func:`_work`.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.data import SearchData, Task, load_search_data
from search.engine._artifacts import ARTIFACTS_ATTR, Artifacts, check_location, study_artifacts
from search.engine._config import PROPERTIES, StudyConfig, limit_name, load_study_config
from search.engine._logs import framework_logs
from search.engine._objective import Objective
from search.engine._opened import OpenedStudy, open_existing
from search.engine._optimize import optimize_until_budget, progress_bar
from search.engine._ranking import best_by_group, count_finished
from search.engine._recovery import recover_trials
from search.engine._spaces import check_study, study_data, study_space
from search.engine._storage import check_storage, closes_storages, redact, resolve_storage
from search.engine._study import enqueue_definition, enqueue_portfolio, open_study, open_trial_storage
from search.engine._supervise import default_workers, device_line, pin_cores, run_workers, usable_gpus
from search.errors import InputError
from search.models import use_backend

if TYPE_CHECKING:
    import optuna

__all__ = ["join_study", "run_study"]

_SEED_STRIDE = 1_000_003  # sampler seeds of workers started together lie this far apart


@closes_storages
def run_study(
    name: str | StudyConfig,
    *,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    allow_changes: bool = False,
    show_progress: bool = True,
    overrides: dict[str, Any] | None = None,
    workers: int | None = 1,
    memory_limit_mb: float | None = None,
    files: dict[str, bytes] | None = None,
    artifacts: str | None = None,
    verbose: bool = False,
) -> optuna.Study:
    """Run (or resume) a study until it has ``n_trials`` finished trials.

    The budget is a total for the study: running the same call again after an
    interruption only runs the missing trials. Trials of workers that died are
    marked failed and their parameters re-queued. Everything that can be wrong
    with the input is checked before the storage is written.

    Args:
        name: A study name from ``studies/``, a path to a study ``.toml``, or a
            :class:`search.StudyConfig` (what :func:`search.tune` passes).
        n_trials: Total finished (complete or pruned) trials; default from the study.
        timeout: Stop starting new trials after this many seconds.
        storage: An Optuna storage URL; default :func:`search.default_storage`.
        allow_changes: Resume even if the definition or the space changed.
        show_progress: Show a progress bar on stderr.
        overrides: Changes to the definition, e.g. ``{"data": {"vocab_size": 2000}}``.
        workers: Number of worker processes on this machine, each pinned to its
            share of the cores when there are enough; ``None``: as many as
            :func:`default_workers` says (what ``python -m search run`` does), never
            more than the trials left. More can join from other machines with
            :func:`search.join_study` on the same storage. The trials also run in a
            worker process when Keras is already loaded here on another backend
            than the study's ``backend``.
        memory_limit_mb: Run the trials in worker processes (even with
            ``workers=1``) and start a worker again once its resident memory grew
            by this much since its first trial: TensorFlow keeps some memory of
            every model it trained, which only a new process gives back.
        files: Files for the study's artifact folder (``{"data/x.joblib": bytes}``),
            written once every check has passed and the study is open, before any
            trial runs: what workers in other processes read.
        artifacts: Where the study keeps checkpoints, models, data and reports: a
            folder (local, or shared by every machine) or ``s3://bucket/prefix``.
            Stored on a new study, so that a worker that joins with only the
            storage URL finds it; for an existing study, used by this process
            instead of the stored one (a share mounted under another path).
            Default: the stored one, else ``SEARCH_ARTIFACTS``, else a folder
            beside a SQLite file or in this machine's ``SEARCH_HOME``.
        verbose: Show Optuna's INFO lines (a study created, each trial finished)
            and TensorFlow's start-up lines, here and in the worker processes;
            default: warnings and errors only.

    Returns:
        The ``optuna.Study``.

    Raises:
        search.InputError: Bad input; nothing was written.
        search.RunError: The run could not go on (trials failing in a row, workers
            that failed); the finished trials are stored.

    Examples:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> study = run_study("iris", n_trials=1, storage=f"sqlite:///{folder}/studies.db", show_progress=False,
        ...                   overrides={"max_epochs": 2})
        >>> len(study.trials), study.trials[0].state.name
        (1, 'COMPLETE')
    """
    with framework_logs(verbose=verbose):
        use_backend()  # the settings that precede TensorFlow and JAX; the study's backend is set below
        changes = dict(overrides or {})
        if n_trials is not None:  # wins over a "trials" override (e.g. --set trials=5)
            changes["trials"] = n_trials
        if isinstance(name, StudyConfig):
            config = name.replace(trials=n_trials) if n_trials is not None else name
        else:
            try:
                config = load_study_config(name, **changes)
            except UnicodeDecodeError as exc:  # a definition file saved in another encoding (latin-1, say)
                raise InputError(
                    f"study definition {name} is not UTF-8 text"
                    f" (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
                ) from None
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise InputError(f"timeout must be a positive number of seconds, got {timeout}")
        if workers is not None and workers < 1:
            raise InputError(f"workers must be at least 1, got {workers}")
        if memory_limit_mb is not None and not (math.isfinite(memory_limit_mb) and memory_limit_mb > 0):
            raise InputError(f"memory limit must be a positive number of MB, got {memory_limit_mb}")
        # Keras already loaded on another backend (e.g. in a notebook): the trials run in a worker process.
        in_process = use_backend(config.backend)
        url = resolve_storage(storage)
        check_storage(url)
        explicit = check_location(artifacts) if artifacts else None
        given = explicit or (check_location(env) if (env := os.environ.get("SEARCH_ARTIFACTS")) else None)
        store = study_artifacts(url, given=given)
        if given or files:
            store.check_writable(tuple(files or ()))
        space = check_study(config, study_space(config, store))
        # The data are loaded here to check them against the definition before anything is written.
        data = load_search_data(study_data(config, store), seed=config.seed, cv=config.cv)
        _check_metrics(config, data.task)
        space.check_data(data.x_train, config.space_bounds)  # e.g. a vocabulary bound larger than the prepared n-grams
        study = open_study(config, open_trial_storage(url), space, allow_changes=allow_changes)
        store = _keep_artifacts(study, url, given, explicit=explicit is not None)
        opened = OpenedStudy(study, url, store, config=config, space=space)
        for relative, blob in (files or {}).items():
            store.put(relative, blob)
        print(f"study {config.name!r} in {redact(url)} (artifacts in {redact(store.location)})", file=sys.stderr)
        requeued = recover_trials(study)
        if requeued:
            print(f"re-queued interrupted trial(s) {', '.join(map(str, requeued))}", file=sys.stderr)
        if config.enqueue and count_finished(study) < config.trials:
            queued = enqueue_definition(study, config)
            if queued:
                print(f"queued {queued} parameter set(s) of the definition to try first", file=sys.stderr)
        if queued := enqueue_portfolio(study, config, space):
            print(
                f"queued {queued} configuration(s) of {space.name}'s portfolio to try first (portfolio = false: none)",
                file=sys.stderr,
            )

        deadline = None if timeout is None else time.monotonic() + timeout
        # With the budget reached nothing trains (and the stored definition was left as it was): no worker starts.
        left = config.trials - count_finished(study)
        done = left <= 0
        gpus, warning = usable_gpus(config.backend) if not done else ({}, None)
        if warning:
            print(warning, file=sys.stderr)
        if workers is None:
            workers, why = default_workers(config.backend, gpus=gpus)
            workers = max(1, min(workers, left))
            print(f"{workers} worker(s): {why} (--workers N to choose)", file=sys.stderr)
        if not done:
            print(device_line(workers, gpus), file=sys.stderr)
        if not done and (workers > 1 or memory_limit_mb is not None or not in_process):
            del data  # each worker process loads its own copy
            run_workers(
                study,
                config,
                url,
                workers=workers,
                deadline=deadline,
                memory_limit_mb=memory_limit_mb,
                show=show_progress,
                artifacts=explicit,
                gpus=list(gpus),
            )
        elif not done:
            _work(opened, data, deadline=deadline, show_progress=show_progress)
        groups = best_by_group(study)
        if groups and study.user_attrs.get("best_by_group") != groups:  # e.g. frozen vs fine-tuned embeddings
            study.set_user_attr("best_by_group", groups)
        return study


@closes_storages
def join_study(
    name: str,
    *,
    storage: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    show_progress: bool = False,
    memory_limit_mb: float | None = None,
    slot: int | None = None,
    cpus: Sequence[int] | None = None,
    allow_modules: Sequence[str] = (),
    artifacts: str | None = None,
    verbose: bool = False,
) -> optuna.Study:
    """Work on an existing study until its budget is reached: one more worker.

    The study's stored definition decides data, space and budget, so a worker on
    another machine needs only the study name and the storage URL.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.
        n_trials: A new total budget for the study (stored for every worker).
        timeout: Stop starting trials after this many seconds.
        show_progress: Show a progress bar on stderr.
        memory_limit_mb: Stop with :class:`MemoryLimitReached` once resident memory
            has grown by this much (``python -m search worker`` then exits with
            ``RESTART_EXIT_STATUS``, and ``run --workers`` starts it again).
        slot: This worker's number among those started together (``run --workers``
            numbers them from 0); it offsets the sampler's seed, so that workers
            starting at the same moment sample different parameters. ``None``: the
            process id does.
        cpus: Run this process (and the threads TensorFlow or XLA start later) on
            these cores only.
        allow_modules: Modules (and ``pickled``) of the stored definition this
            process may import or unpickle, beyond the shipped ones; see
            :func:`search.engine.check_trusted` and the trust model in the docs.
        artifacts: The study's artifact store as this machine reaches it, instead of
            the one stored on the study (see :func:`run_study`).
        verbose: Show Optuna's INFO lines (see :func:`run_study`).

    Raises:
        search.InputError: No such study or storage, a bad budget or core list.

    Examples:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> url = f"sqlite:///{folder}/studies.db"
        >>> _ = run_study("synthetic", n_trials=1, storage=url, show_progress=False, overrides={"max_epochs": 2})
        >>> len(join_study("synthetic", storage=url, n_trials=2).trials)
        2
    """
    with framework_logs(verbose=verbose):
        if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int) or slot < 0):
            raise InputError(f"slot must be a worker number of 0 or more, got {slot!r}")
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise InputError(f"timeout must be a positive number of seconds, got {timeout}")
        if memory_limit_mb is not None and not (math.isfinite(memory_limit_mb) and memory_limit_mb > 0):
            raise InputError(f"memory limit must be a positive number of MB, got {memory_limit_mb}")
        if cpus:
            pin_cores(cpus)
        use_backend()
        # The stored definition's sampler and pruner: Optuna's defaults would prune from the first epoch.
        offset = (os.getpid() if slot is None else slot) * _SEED_STRIDE % 2**31
        opened = open_existing(
            name,
            storage=storage,
            for_trials=True,
            seed_offset=offset,
            allow_modules=allow_modules,
            artifacts=artifacts,
            trusted=True,
        )
        config = opened.config
        if not use_backend(config.backend):
            raise InputError(
                f"study {name!r} trains on the {config.backend} backend, but Keras was loaded on another one "
                "in this process: join it with python -m search worker"
            )
        if n_trials is not None:
            if n_trials < 1:
                raise InputError(f"--trials must be at least 1, got {n_trials}")
            config = config.replace(trials=n_trials)
            opened.config = config  # this process's budget; stored below once every check passed
        _ = opened.space  # loaded now: an untrusted or broken space fails before the data are read
        data = load_search_data(opened.data_settings(), seed=config.seed, cv=config.cv)
        if n_trials is not None and opened.study.user_attrs["config"].get("trials") != n_trials:
            opened.study.set_user_attr("config", config.stored())
        deadline = None if timeout is None else time.monotonic() + timeout
        _work(opened, data, deadline=deadline, show_progress=show_progress, memory_limit_mb=memory_limit_mb)
        return opened.study


def _keep_artifacts(study: optuna.Study, url: str, given: str | None, *, explicit: bool) -> Artifacts:
    """The store this process uses; ``given`` is stored on a study that keeps none yet.

    A store named on the command line (``explicit``) is used instead of the one the
    study keeps, for this process only (a share mounted under another path);
    ``SEARCH_ARTIFACTS`` only names the store of studies that keep none.
    """
    stored = study.user_attrs.get(ARTIFACTS_ATTR)
    if given and not stored:
        study.set_user_attr(ARTIFACTS_ATTR, given)
        return study_artifacts(url, study)
    if explicit and given != stored:
        print(
            f"artifacts in {redact(given or '')} for this process (the study keeps them in {redact(str(stored))})",
            file=sys.stderr,
        )
        return study_artifacts(url, study, given=given)
    return study_artifacts(url, study)


def _work(
    opened: OpenedStudy,
    data: SearchData,
    *,
    deadline: float | None,
    show_progress: bool,
    memory_limit_mb: float | None = None,
) -> None:
    """Run this process's trials of the opened study until its budget is reached: every path trains here."""
    config, study = opened.config, opened.study
    with progress_bar(study, config.trials, show=show_progress, max_epochs=config.max_epochs) as bar:
        objective = Objective(
            config,
            data,
            opened.space,
            storage_url=opened.url,
            artifacts=opened.store,
            budget=config.trials,
            on_epoch=bar.epoch if bar else None,
            callbacks=opened.callbacks,
        )
        optimize_until_budget(
            study,
            objective,
            budget=config.trials,
            deadline=deadline,
            callbacks=[bar] if bar else [],
            memory_limit_mb=memory_limit_mb,
        )


def _check_metrics(config: StudyConfig, task: Task) -> None:
    if config.metrics:
        logged = tuple(config.metrics) + tuple(f"val_{m}" for m in config.metrics)
        where = "by the model"
    else:
        logged, where = task.metric_names, f"for a {task.kind} task"
    named = [("metric", config.metric), ("monitor", config.monitored)]
    named += [("objective", name) for name in config.objective_names[1:] if name not in PROPERTIES]
    named += [(f"constraint {key}", limit_name(key)) for key in config.constraints if limit_name(key) not in PROPERTIES]
    for key, name in named:
        if name not in logged:
            raise InputError(f"{key} {name!r} is not logged {where} (one of: {', '.join(logged)})")
