"""One opened study: a study of a storage with its definition, artifact store and space, resolved once.

Every entry point that works on an existing study (a worker joining it, the
holdout, the predictor, the report, ``list``, the dashboard) opens it with
:func:`open_existing` and passes the :class:`OpenedStudy` on, instead of
resolving the storage, definition, trust, store, space and data settings again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.engine._artifacts import (
    ARTIFACTS_ATTR,
    Artifacts,
    artifacts_at,
    check_location,
    default_location,
    study_artifacts,
    upload_named,
)
from search.engine._callbacks import fresh_callbacks, study_callbacks
from search.engine._config import StudyConfig
from search.engine._spaces import study_data, study_space
from search.engine._storage import closes_storages, open_storage, redact, resolve_storage
from search.engine._study import find_study
from search.engine._supervise import device_line, usable_gpus
from search.engine._trust import check_pickle, check_trusted, sign
from search.errors import InputError
from search.models import LoadedSpace

if TYPE_CHECKING:
    import optuna

__all__ = ["OpenedStudy", "open_all", "open_existing", "shared_store"]


class OpenedStudy:
    """A study opened by name: the ``optuna.Study``, its storage URL, its artifact store and what it stores.

    Attributes:
        study: The ``optuna.Study``.
        url: Its storage URL (show it with :func:`search.engine.redact`).
        store: Its artifact store: the one this process was told (``--artifacts``),
            else the one the study keeps, else the storage's default.
        allow: What this process allows of a stored definition (``--allow-module``).

    Examples:
        >>> import tempfile
        >>> from search import run_study
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> _ = run_study("iris", n_trials=1, storage=url, show_progress=False, overrides={"max_epochs": 1})
        >>> opened = open_existing("iris", storage=url)
        >>> opened.name, opened.config.metric, opened.space.name
        ('iris', 'val_accuracy', 'spaces.mlp')
    """

    def __init__(
        self,
        study: optuna.Study,
        url: str,
        store: Artifacts,
        *,
        storage: optuna.storages.BaseStorage | None = None,
        config: StudyConfig | None = None,
        space: LoadedSpace | None = None,
        allow: Sequence[str] = (),
    ) -> None:
        self.study, self.url, self.store, self.allow = study, url, store, tuple(allow)
        self._storage = storage
        if config is not None:
            self.__dict__["config"] = config
        if space is not None:
            self.__dict__["space"] = space

    @property
    def name(self) -> str:
        return str(self.study.study_name)

    @functools.cached_property
    def config(self) -> StudyConfig:
        """The stored definition, validated as a definition file is (read once).

        Raises:
            search.InputError: The study has none (not created by this tool) or one the schema refuses.
        """
        return StudyConfig.from_stored(self.name, self.study.user_attrs.get("config"))

    def check_trusted(self) -> None:
        """Refuse a stored definition that would make this process run code it was not told to trust.

        Raises:
            search.InputError: See :func:`search.engine._trust.check_trusted`.
        """
        check_trusted(self.config, self.allow)

    @functools.cached_property
    def space(self) -> LoadedSpace:
        """The stored definition's space, loaded as trust allows (see :func:`search.engine._spaces.study_space`)."""
        return study_space(self.config, self.store, stored=True, allow=self.allow)

    @functools.cached_property
    def callbacks(self) -> list[Any]:
        """The user's own Keras callbacks the study trains with, loaded as trust allows (none for most studies)."""
        return study_callbacks(self.config, self.store, self.allow)

    def fresh_callbacks(self, label: str) -> list[Any]:
        """A fresh copy of the study's own callbacks for one model (see ``search.engine._callbacks``)."""
        return fresh_callbacks(self.callbacks, label)

    def trial(self, number: int) -> optuna.trial.Trial:
        """Trial ``number`` as a ``optuna.Trial``: what optuna-dashboard's notes and figures of a trial take.

        Raises:
            KeyError: No such trial.
        """
        import optuna

        storage = self._storage if self._storage is not None else self._open_storage()
        study_id = storage.get_study_id_from_name(self.name)
        return optuna.trial.Trial(self.study, storage.get_trial_id_from_study_id_trial_number(study_id, number))

    def _open_storage(self) -> optuna.storages.BaseStorage:
        self._storage = open_storage(self.url, must_exist=True)
        return self._storage

    def upload(self, path: Path, name: str, *, mimetype: str) -> dict[str, str]:
        """Attach a file to the study as an Optuna artifact (what optuna-dashboard offers), kept once under ``name``.

        Returns:
            ``model_path`` (where the store keeps it) and ``artifact_id``.
        """
        artifact_id = upload_named(self.store, self.study, path, name, mimetype=mimetype)
        return {"model_path": self.store.describe(name), "artifact_id": artifact_id}

    def check_pickle(self, what: str, name: str, digest: Any, signature: Any) -> None:
        """Refuse a pickle of this study this process does not trust (see :func:`search.engine._trust.check_pickle`)."""
        check_pickle(what, name, digest, signature, self.allow)

    @staticmethod
    def sign(name: str, digest: str) -> str:
        """This user's signature of a pickle this process writes for the study (see ``search.engine._trust.sign``)."""
        return sign(name, digest)

    def device_lines(self, who: str) -> list[str]:
        """What to print of where ``who`` trains (``"the holdout trains on GPU 0"``), warning of a GPU left unused."""
        gpus, warning = usable_gpus(self.config.backend)
        return [line for line in (warning, device_line(who, gpus)) if line]

    def data_settings(self) -> dict[str, Any]:
        """The ``[data]`` settings the loaders read, with the local folder of ``stored`` data."""
        return study_data(self.config, self.store)

    def __repr__(self) -> str:
        return f"OpenedStudy({self.name!r}, store={self.store!r})"


@closes_storages
def open_existing(
    name: str,
    *,
    storage: str | None = None,
    for_trials: bool = False,
    seed_offset: int = 0,
    allow_modules: Sequence[str] = (),
    artifacts: str | None = None,
    trusted: bool = False,
) -> OpenedStudy:
    """Open the existing study ``name``: the one place where a study is resolved by name.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.engine.default_storage`.
        for_trials: Attach the stored definition's sampler and pruner (a worker's need).
        seed_offset: Added to the sampler's seed (workers joining at the same moment).
        allow_modules: What this process allows of the stored definition.
        artifacts: The study's artifact store as this machine reaches it, instead of the stored one.
        trusted: Check the stored definition against what this process trusts now.

    Raises:
        search.InputError: No such storage or study; with ``for_trials`` or ``trusted``, a
            stored definition the schema refuses or this process does not trust.
    """
    given = check_location(artifacts) if artifacts else None
    study, url, storage_obj = find_study(name, storage=storage, for_trials=for_trials, seed_offset=seed_offset)
    store = study_artifacts(url, study, given=given)
    opened = OpenedStudy(study, url, store, storage=storage_obj, allow=allow_modules)
    if trusted:
        opened.check_trusted()
    return opened


@closes_storages
def open_all(storage: str | None = None) -> list[OpenedStudy]:
    """Every study of a storage, opened (one storage connection for all).

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> for name in ("a", "b"):
        ...     _ = optuna.create_study(study_name=name, storage=url)
        >>> [o.name for o in open_all(url)]
        ['a', 'b']
    """
    import optuna

    url = resolve_storage(storage)
    storage_obj = open_storage(url, must_exist=True)
    opened = []
    for summary in optuna.get_all_study_summaries(storage_obj, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage_obj)
        opened.append(OpenedStudy(study, url, study_artifacts(url, study), storage=storage_obj))
    return opened


def shared_store(storage: optuna.storages.BaseStorage, url: str | None, given: str | None = None) -> Artifacts:
    """The one artifact store that a dashboard on every study of ``storage`` serves.

    ``given`` (``--artifacts``) if any; else the store the studies keep (they must
    agree); else the storage's default.

    Raises:
        search.InputError: The studies keep their artifacts in different stores.
    """
    if given:
        return artifacts_at(given)
    url = resolve_storage(url)
    kept = {s.user_attrs.get(ARTIFACTS_ATTR) for s in storage.get_all_studies()} - {None, ""}
    if len(kept) > 1:
        raise InputError(
            f"the studies in {redact(url)} keep their artifacts in {len(kept)} stores "
            f"({', '.join(sorted(redact(str(k)) for k in kept))}); choose one with --artifacts"
        )
    return artifacts_at(str(kept.pop()) if kept else default_location(url))
