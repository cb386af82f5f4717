"""Study storage: URL checks that write nothing, opening, and the artifact store."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.data import home_dir, settings_key
from search.errors import InputError

if TYPE_CHECKING:
    import optuna
    from optuna.artifacts import FileSystemArtifactStore

__all__ = [
    "artifact_dir",
    "artifact_store",
    "check_storage",
    "default_storage",
    "open_storage",
    "sqlite_path",
    "write_artifact",
]

HEARTBEAT_INTERVAL_S = 20
GRACE_PERIOD_S = 60


def default_storage() -> str:
    """``SEARCH_STORAGE``, else a SQLite file in the user's data directory.

    Examples:
        >>> url = default_storage()  # with SEARCH_STORAGE unset
        >>> url.startswith("sqlite:///"), url.endswith("/studies.db")
        (True, True)
    """
    return os.environ.get("SEARCH_STORAGE") or f"sqlite:///{home_dir() / 'studies.db'}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL, ``None`` for other back ends.

    Raises:
        InputError: The URL cannot be parsed.

    Examples:
        >>> sqlite_path("sqlite:////tmp/x.db")
        PosixPath('/tmp/x.db')
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InputError(f"malformed storage URL {url!r} (expected e.g. sqlite:///path/to/studies.db)") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InputError(f"storage URL {url!r} names no database file")
    return Path(parsed.database)


def check_storage(url: str, *, must_exist: bool = False) -> None:
    """Check a storage URL without writing anything.

    For SQLite: the folder exists, and an existing file is a SQLite database that
    is empty or holds Optuna's tables. Other back ends are checked on connect.

    Raises:
        InputError: One line naming the problem.
    """
    path = sqlite_path(url)
    if path is None:
        _check_driver(url)
        return
    if not path.exists():
        if must_exist:
            raise InputError(f"no study database at {path}")
        if not path.parent.is_dir() and path.parent != home_dir():
            raise InputError(f"cannot create study database {path}: folder {path.parent} does not exist")
        return
    if not path.is_file():
        raise InputError(f"{path} is not a study database (not a file)")
    try:
        with path.open("rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise InputError(f"cannot read study database {path}: {exc.strerror}") from None
    if header and header != b"SQLite format 3\x00":
        raise InputError(f"{path} is not a study database (not a SQLite file)")
    if header:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{path} is not a study database ({exc})") from None
        if tables and not {"studies", "version_info"} <= tables:
            raise InputError(f"{path} is not a study database (it has no Optuna tables)")


def _check_driver(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        create_engine(url).dispose()  # loads the dialect and driver, connects to nothing
    except NoSuchModuleError:
        raise InputError(f"unsupported storage URL {url!r} (unknown database type)") from None
    except (ArgumentError, ImportError, ValueError) as exc:
        raise InputError(f"unusable storage URL {url!r}: {exc}") from None


def open_storage(
    url: str,
    *,
    must_exist: bool = False,
    failed_trial_callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> optuna.storages.RDBStorage:
    """Open (and on first use create) an Optuna RDB storage with worker heartbeats.

    A trial whose worker stops sending heartbeats for ``GRACE_PERIOD_S`` is marked
    failed; ``failed_trial_callback`` (a policy, as Optuna's
    ``RetryFailedTrialCallback`` is) is then called with it, e.g. to re-queue it.

    Raises:
        InputError: Bad URL, unreachable server, not a study database, or a
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
                heartbeat_stale_trial_callback=failed_trial_callback,
            )
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise InputError(f"cannot open storage {url}: {detail}") from None
    except (RuntimeError, ValueError, ImportError) as exc:
        raise InputError(f"cannot open storage {url}: {str(exc).splitlines()[0]}") from None


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


def artifact_dir(url: str) -> Path:
    """Where models and other artifacts of the studies in ``url`` are kept.

    ``SEARCH_ARTIFACTS`` if set; next to a SQLite file as ``<file>.artifacts``;
    else a folder in the user's data directory named after the URL.

    Examples:
        >>> artifact_dir("sqlite:////tmp/x.db")  # with SEARCH_ARTIFACTS unset; creates nothing
        PosixPath('/tmp/x.db.artifacts')
    """
    value = os.environ.get("SEARCH_ARTIFACTS")
    if value:
        return Path(value).expanduser()
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(path.name + ".artifacts")
    return home_dir() / "artifacts" / settings_key({"url": url})


def write_artifact(url: str, relative: str, blob: bytes) -> Path:
    """Write ``blob`` to ``relative`` inside the artifact folder of ``url``, atomically (never half a file).

    Raises:
        search.InputError: ``relative`` leaves the artifact folder.
    """
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or ".." in parts:
        raise InputError(f"artifact path {relative!r} is not inside the artifact folder")
    path = artifact_dir(url).joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(blob)
    os.replace(tmp, path)
    return path


def artifact_store(url: str) -> FileSystemArtifactStore:
    """A file-system artifact store for the studies in ``url`` (created on first use)."""
    from optuna.artifacts import FileSystemArtifactStore

    folder = artifact_dir(url)
    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder))
