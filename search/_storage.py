"""Study storage: URL checks that write nothing, opening, and the artifact store."""

from __future__ import annotations

import os
import sqlite3
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search._errors import SearchError
from search._paths import home_dir, settings_key

if TYPE_CHECKING:
    import optuna
    from optuna.artifacts import FileSystemArtifactStore

__all__ = ["artifact_dir", "artifact_store", "check_storage", "default_storage", "open_storage", "sqlite_path"]

HEARTBEAT_INTERVAL_S = 20
GRACE_PERIOD_S = 60


def default_storage() -> str:
    """``SEARCH_STORAGE``, else a SQLite file in the user's data directory.

    Example:
        >>> default_storage().startswith("sqlite:///")  # doctest: +SKIP
        True
    """
    return os.environ.get("SEARCH_STORAGE") or f"sqlite:///{home_dir() / 'studies.db'}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, ``None`` for other back ends.

    Raises:
        SearchError: The URL cannot be parsed.

    Example:
        >>> sqlite_path("sqlite:////tmp/x.db")
        PosixPath('/tmp/x.db')
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SearchError(f"malformed storage URL {url!r} (expected e.g. sqlite:///path/to/studies.db)") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise SearchError(f"storage URL {url!r} names no database file")
    return Path(parsed.database)


def check_storage(url: str, *, must_exist: bool = False) -> None:
    """Check a storage URL without writing anything.

    For SQLite: the folder exists, and an existing file is a SQLite database that
    is empty or holds Optuna's tables. Other back ends are checked on connect.

    Raises:
        SearchError: One line naming the problem.
    """
    path = sqlite_path(url)
    if path is None:
        _check_driver(url)
        return
    if not path.exists():
        if must_exist:
            raise SearchError(f"no study database at {path}")
        if not path.parent.is_dir() and path.parent != home_dir():
            raise SearchError(f"cannot create study database {path}: folder {path.parent} does not exist")
        return
    if not path.is_file():
        raise SearchError(f"{path} is not a study database (not a file)")
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise SearchError(f"cannot read study database {path}: {exc.strerror}") from None
    if header and header != b"SQLite format 3\x00":
        raise SearchError(f"{path} is not a study database (not a SQLite file)")
    if header:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise SearchError(f"{path} is not a study database ({exc})") from None
        if tables and not {"studies", "version_info"} <= tables:
            raise SearchError(f"{path} is not a study database (it has no Optuna tables)")


def _check_driver(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        create_engine(url).dispose()  # loads the dialect and driver, connects to nothing
    except NoSuchModuleError:
        raise SearchError(f"unsupported storage URL {url!r} (unknown database type)") from None
    except (ArgumentError, ImportError, ValueError) as exc:
        raise SearchError(f"unusable storage URL {url!r}: {exc}") from None


def open_storage(url: str, *, must_exist: bool = False) -> optuna.storages.RDBStorage:
    """Open (and on first use create) an Optuna RDB storage with worker heartbeats.

    A trial whose worker stops sending heartbeats for ``GRACE_PERIOD_S`` is marked
    failed and re-queued once with the same parameters.

    Raises:
        SearchError: Bad URL, unreachable server, not a study database, or a
            schema written by a newer Optuna.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    check_storage(url, must_exist=must_exist)
    engine_kwargs: dict[str, Any] = {}
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # only the default folder can be missing here
        # Wait for a lock rather than fail with "database is locked".
        engine_kwargs["connect_args"] = {"timeout": 120}
    if path is not None:
        _use_wal()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=GRACE_PERIOD_S,
                heartbeat_stale_trial_callback=_requeue_stale,
            )
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SearchError(f"cannot open storage {url}: {detail}") from None
    except (RuntimeError, ValueError, ImportError) as exc:
        raise SearchError(f"cannot open storage {url}: {str(exc).splitlines()[0]}") from None


_WAL_SET = False


def _use_wal() -> None:
    """Put SQLite connections in WAL mode with a busy timeout.

    With WAL, readers (a dashboard, ``list``) never block the writers and one
    writer waits for another instead of failing with "database is locked".
    """
    global _WAL_SET
    if _WAL_SET:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(connection: Any, record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=120000")
            cursor.close()

    _WAL_SET = True


def _requeue_stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    from search._recovery import requeue_failed_trial

    requeue_failed_trial(study, trial)


def artifact_dir(url: str) -> Path:
    """Where models and other artifacts of the studies in ``url`` are kept.

    ``SEARCH_ARTIFACTS`` if set; next to a SQLite file as ``<file>.artifacts``;
    else a folder in the user's data directory named after the URL.

    Example:
        >>> artifact_dir("sqlite:////tmp/x.db")  # doctest: +SKIP
        PosixPath('/tmp/x.db.artifacts')
    """
    value = os.environ.get("SEARCH_ARTIFACTS")
    if value:
        return Path(value).expanduser()
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(path.name + ".artifacts")
    return home_dir() / "artifacts" / settings_key({"url": url})


def artifact_store(url: str) -> FileSystemArtifactStore:
    """A file-system artifact store for the studies in ``url`` (created on first use)."""
    from optuna.artifacts import FileSystemArtifactStore

    folder = artifact_dir(url)
    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))
