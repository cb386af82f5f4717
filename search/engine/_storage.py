"""Study storage: URL checks that write nothing, and opening."""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
import re
import sqlite3
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from search.data import home_dir
from search.errors import InputError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "check_storage",
    "close_storages",
    "closes_storages",
    "default_storage",
    "open_storage",
    "redact",
    "resolve_storage",
    "shown_url",
    "sqlite_path",
]

HEARTBEAT_INTERVAL_S = 20
GRACE_PERIOD_S = 60


def heartbeat_interval() -> int:
    """Seconds between two heartbeats of a running trial: ``SEARCH_HEARTBEAT_S`` or 20.

    A worker that sends none for three intervals (:func:`grace_period`) is taken
    for dead and its trial re-queued; every process on a study should use the
    same value.

    Raises:
        search.InputError: Not a whole number of seconds of at least 1.

    Examples:
        >>> heartbeat_interval(), grace_period()  # with SEARCH_HEARTBEAT_S unset
        (20, 60)
    """
    value = os.environ.get("SEARCH_HEARTBEAT_S", "").strip()
    if not value:
        return HEARTBEAT_INTERVAL_S
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"SEARCH_HEARTBEAT_S must be a whole number of seconds (at least 1), got {value!r}")
    return int(value)


def grace_period() -> int:
    """Seconds without a heartbeat after which a running trial's worker is taken for dead: three intervals."""
    return 3 * heartbeat_interval()


def default_storage() -> str:
    """``SEARCH_STORAGE``, else a SQLite file in the user's data directory.

    Examples:
        >>> url = default_storage()  # with SEARCH_STORAGE unset
        >>> url.startswith("sqlite:///"), url.endswith("/studies.db")
        (True, True)
    """
    return os.environ.get("SEARCH_STORAGE") or f"sqlite:///{home_dir() / 'studies.db'}"


def shown_url(storage: str | None) -> str:
    """The storage a call means (``None``: the default), as messages show it: its secrets masked.

    Examples:
        >>> shown_url("postgresql://ann:pw@db/studies")
        'postgresql://ann:***@db/studies'
    """
    return redact(resolve_storage(storage))


def resolve_storage(storage: str | None) -> str:
    """The storage URL a call means: ``storage``, or :func:`default_storage` when it is ``None``.

    Raises:
        search.InputError: An empty URL (a variable that expanded to nothing, say), which names no storage.

    Examples:
        >>> resolve_storage("sqlite:////tmp/x.db")
        'sqlite:////tmp/x.db'
        >>> resolve_storage(" ")
        Traceback (most recent call last):
        ...
        search.errors.InputError: the storage URL is empty: give one, or none for the default (SEARCH_STORAGE ...)
    """
    if storage is None:
        return default_storage()
    if not isinstance(storage, str) or not storage.strip():
        raise InputError(
            "the storage URL is empty: give one, or none for the default (SEARCH_STORAGE or a SQLite file)"
        )
    return storage


# Query parameters whose values are secrets (a password, a token, a signed URL's signature).
_SECRET = re.compile(r"pass|pwd|secret|token|key|sig|credential|auth", re.IGNORECASE)


def redact(url: str) -> str:
    """``url`` as it may be shown or stored: passwords, user-info secrets and secret-looking query values masked.

    Database URLs go through SQLAlchemy's ``render_as_string(hide_password=True)``;
    ``grpc://``, ``s3://`` and unparsable URLs get the same mask by hand.

    Examples:
        >>> redact("postgresql+psycopg2://ann:s3cret@db:5432/studies?password=s3cret")
        'postgresql+psycopg2://ann:***@db:5432/studies?password=***'
        >>> redact("grpc://ann:s3cret@proxy:13000"), redact("s3://bucket/x?X-Amz-Signature=abc&region=eu")
        ('grpc://ann:***@proxy:13000', 's3://bucket/x?X-Amz-Signature=***&region=eu')
        >>> redact("sqlite:////tmp/studies.db")
        'sqlite:////tmp/studies.db'
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if not isinstance(url, str):
        return repr(url)
    if "://" in url and not url.startswith((GRPC_SCHEME, "s3://")):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        with contextlib.suppress(ArgumentError, ValueError, TypeError):
            parsed = make_url(url)
            masked = {k: "***" if _SECRET.search(k) else v for k, v in parsed.query.items()}
            return str(parsed.set(query=masked).render_as_string(hide_password=True)).replace("%2A%2A%2A", "***")
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(//[^/:@]*):[^/@]*@", r"\1:***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        user_info, _, host = netloc.rpartition("@")
        user, has_password, _ = user_info.partition(":")
        netloc = f"{user}:***@{host}" if has_password else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if _SECRET.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


GRPC_SCHEME = "grpc://"
GRPC_WAIT_S = 30.0


def grpc_address(url: str) -> tuple[str, int]:
    """Host and port of a ``grpc://HOST:PORT`` URL (a storage proxy: ``python -m search proxy``).

    Raises:
        InputError: No host or no port.

    Examples:
        >>> grpc_address("grpc://db-proxy:13000")
        ('db-proxy', 13000)
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None or parts.path.strip("/"):
        raise InputError(f"malformed storage URL {redact(url)!r} (expected grpc://HOST:PORT)")
    return host, port


def is_proxy(url: str) -> bool:
    """Whether ``url`` names a gRPC storage proxy (its workers send no storage heartbeats)."""
    return url.startswith(GRPC_SCHEME)


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
        raise InputError(
            f"malformed storage URL {redact(url)!r} (expected e.g. sqlite:///path/to/studies.db)"
        ) from None
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InputError(f"storage URL {redact(url)!r} names no database file")
    unknown = sorted(set(parsed.query) - _SQLITE_OPTIONS)
    if unknown:
        raise InputError(
            f"storage URL {redact(url)!r}: unknown SQLite option(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_SQLITE_OPTIONS))})"
        )
    return Path(parsed.database)


# What SQLAlchemy's pysqlite dialect reads from a sqlite:/// URL's query; anything else would be ignored.
# Not isolation_level: the storage sets it (each of its sessions begins with BEGIN IMMEDIATE, see _use_wal).
_SQLITE_OPTIONS = frozenset({"timeout", "detect_types", "check_same_thread", "cached_statements"})


CHECK_TIMEOUT_S = 5.0
"""How long the checks wait for another process's lock on a SQLite database before refusing it.

The trials themselves wait up to two minutes (another worker writing); a check
that only reads or probes the database should not hang for minutes.
"""
_SQLITE_HEADER = b"SQLite format 3\x00"


def check_storage(url: str, *, must_exist: bool = False) -> None:
    """Check a storage URL without writing anything (and without leaving ``-wal``/``-shm`` files).

    For SQLite: the folder exists and can be written; an existing file is a sound
    SQLite database (``PRAGMA quick_check``) that is empty or holds Optuna's
    tables, can be written, and is not locked by another process for longer than
    ``CHECK_TIMEOUT_S`` seconds. Other back ends are checked on connect.

    Raises:
        InputError: One line naming the problem.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> check_storage(f"sqlite:///{folder}/studies.db")  # a new database: its folder can be written
        >>> _ = (folder / "notes.db").write_bytes(_SQLITE_HEADER + bytes(100))  # a header, then zeros
        >>> check_storage(f"sqlite:///{folder}/notes.db")
        Traceback (most recent call last):
        ...
        search.errors.InputError: .../notes.db is not a study database (corrupt or truncated: ...)
        >>> check_storage("sqlite:////etc/passwd/studies.db")
        Traceback (most recent call last):
        ...
        search.errors.InputError: cannot create study database /etc/passwd/studies.db: /etc/passwd is not a folder
    """
    if is_proxy(url):
        grpc_address(url)
        return
    path = sqlite_path(url)
    if path is None:
        _check_driver(url)
        return
    try:
        exists = path.exists()
    except OSError as exc:  # e.g. a name too long
        raise InputError(f"cannot use study database {path}: {exc.strerror or exc}") from None
    if not exists:
        if must_exist:
            raise InputError(f"no study database at {path}")
        _check_new_file(path)
        return
    if not path.is_file():
        raise InputError(f"{path} is not a study database (not a file)")
    if _open_here(path):
        # Opened (and checked) by this process already. Reading the file again would close a descriptor of it,
        # and closing any descriptor of a file drops every POSIX lock this process holds on it, SQLite's too:
        # another process would then take itself for the last one and remove the -wal and -shm files under
        # this process's open connections ("database disk image is malformed").
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise InputError(f"cannot read study database {path}: {exc.strerror}") from None
    if header and not header.startswith(_SQLITE_HEADER):
        raise InputError(f"{path} is not a study database (not a SQLite file)")
    if header:
        tables = _read_tables(path, wal=len(header) > 19 and header[18:20] == b"\x02\x02")
        if tables and not {"studies", "version_info"} <= tables:
            raise InputError(f"{path} is not a study database (it has no Optuna tables)")
    _check_writable(path)
    if header:
        _check_not_locked(path, wal=len(header) > 19 and header[18:20] == b"\x02\x02")


def _check_new_file(path: Path) -> None:
    """A database file can be created at ``path`` (the default folder is created when missing)."""
    folder = path.parent
    if folder == home_dir() and not folder.exists():
        return
    try:
        is_dir, exists = folder.is_dir(), folder.exists()
    except OSError as exc:
        raise InputError(f"cannot create study database {path}: {exc.strerror or exc}") from None
    if not exists:
        # a path through a file (/etc/passwd/x.db): exists() is False for the folder, but a parent is a file
        blocker = next((p for p in folder.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise InputError(f"cannot create study database {path}: {blocker} is not a folder")
        raise InputError(f"cannot create study database {path}: folder {folder} does not exist")
    if not is_dir:
        raise InputError(f"cannot create study database {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot create study database {path}: folder {folder} is read-only")


def _read_tables(path: Path, *, wal: bool) -> set[str]:
    """The tables of a SQLite file, read without writing and without leaving files beside it.

    A WAL database that no process has open (no ``-shm`` file) is read as
    ``immutable``: a plain read-only connection would leave ``-wal`` and ``-shm``
    files behind (a ``-wal`` file left by a process that ended without closing
    the database stays as it is, unread). Every page is read (``PRAGMA quick_check``), so a corrupt or
    truncated file is refused here rather than half-way through a command.
    """
    idle = wal and not Path(f"{path}-shm").exists()
    uri = f"file:{_quote(path)}?mode=ro" + ("&immutable=1" if idle else "")
    with (
        _one_line_errors(path, "read"),
        contextlib.closing(sqlite3.connect(uri, uri=True, timeout=CHECK_TIMEOUT_S)) as conn,
    ):
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(1)")]
    if problems != ["ok"]:
        raise InputError(f"{path} is not a study database (corrupt or truncated: {problems[0]})")
    return tables


def _check_writable(path: Path) -> None:
    """The database file and its folder (for SQLite's journal or ``-wal`` files) can be written."""
    if not os.access(path, os.W_OK):
        raise InputError(f"cannot write study database {path}: the file is read-only")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write study database {path}: its folder {path.parent} is read-only "
            "(SQLite writes its journal beside the database)"
        )


def _check_not_locked(path: Path, *, wal: bool) -> None:
    """No other process keeps the database locked for writing longer than ``CHECK_TIMEOUT_S``.

    A rollback-journal database is probed with ``BEGIN IMMEDIATE`` and a rollback,
    which writes nothing. A WAL database is not opened for writing here (closing
    the last connection would checkpoint its ``-wal`` file into the database):
    the write lock SQLite keeps in its ``-shm`` file is only queried (``F_GETLK``).
    """
    if wal:
        _wait_for_wal_writer(path)
        return
    uri = f"file:{_quote(path)}?mode=rw"
    with (
        _one_line_errors(path, "write"),
        contextlib.closing(sqlite3.connect(uri, uri=True, timeout=CHECK_TIMEOUT_S, isolation_level=None)) as conn,
    ):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")


@contextlib.contextmanager
def _one_line_errors(path: Path, action: str) -> Iterator[None]:
    """SQLite's errors on the database ``path`` as one :class:`InputError` line: locked, unusable, corrupt."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise InputError(_locked(path)) from None
        raise InputError(f"cannot {action} study database {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{path} is not a study database (corrupt or truncated: {exc})") from None


_WAL_WRITE_LOCK = 120  # the byte of the -shm file that SQLite's WAL writer locks (WALINDEX_LOCK_OFFSET)


def _wait_for_wal_writer(path: Path) -> None:
    """Refuse a WAL database whose write lock another process holds for ``CHECK_TIMEOUT_S`` seconds."""
    import fcntl
    import struct
    import time

    shm = Path(f"{path}-shm")
    if not shm.exists() or not hasattr(fcntl, "F_GETLK"):
        return  # open in no process (or not a POSIX system): nobody holds the lock
    deadline = time.monotonic() + CHECK_TIMEOUT_S
    try:
        fd = os.open(shm, os.O_RDONLY)
    except OSError:
        return
    try:
        while True:
            query = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _WAL_WRITE_LOCK, 1, 0)
            if struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, query))[0] == fcntl.F_UNLCK:
                return
            if time.monotonic() > deadline:
                raise InputError(_locked(path))
            time.sleep(0.1)
    except OSError:
        return  # the lock cannot be queried: the trials' own 2-minute wait applies
    finally:
        os.close(fd)


def _locked(path: Path) -> str:
    return (
        f"study database {path} is locked by another process (still locked after {CHECK_TIMEOUT_S:g} s); "
        "try again once it is done"
    )


def _quote(path: Path) -> str:
    """``path`` for a ``file:`` URI (``?`` and ``#`` in a name would start the query)."""
    from urllib.parse import quote

    return quote(str(path.absolute()))


def _check_driver(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        create_engine(url).dispose()  # loads the dialect and driver, connects to nothing
    except NoSuchModuleError:
        raise InputError(f"unsupported storage URL {redact(url)!r} (unknown database type)") from None
    except (ArgumentError, ImportError, ValueError) as exc:
        raise InputError(f"unusable storage URL {redact(url)!r}: {_without(url, exc)}") from None


def open_storage(
    url: str | None,
    *,
    must_exist: bool = False,
    failed_trial_callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    allow_proxy: bool = True,
) -> optuna.storages.BaseStorage:
    """Open (and on first use create) an Optuna RDB storage with worker heartbeats, or a gRPC proxy's client.

    Workers that reach the database through ``grpc://HOST:PORT`` (Optuna's
    ``GrpcStorageProxy``) send no storage heartbeats: their liveness is a trial
    attribute instead (:func:`search.engine._recovery.recover_trials`).

    A trial whose worker stops sending heartbeats for :func:`grace_period` seconds is marked
    failed; ``failed_trial_callback`` (a policy, as Optuna's
    ``RetryFailedTrialCallback`` is) is then called with it, e.g. to re-queue it.
    ``allow_proxy=False`` refuses a proxy's URL (what a proxy itself serves);
    ``None`` opens :func:`default_storage`.

    Raises:
        InputError: Bad URL, unreachable server, not a study database, or a
            schema written by a newer Optuna.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from search.engine._reconnect import ReconnectingStorage  # loads optuna: imported here, as optuna is

    url = resolve_storage(url)
    check_storage(url, must_exist=must_exist)
    if is_proxy(url):
        if not allow_proxy:
            raise InputError(f"--storage {redact(url)} is itself a proxy: give the database URL")
        return _open_proxy(url, must_exist=must_exist)
    engine_kwargs: dict[str, Any] = {}
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # only the default folder can be missing here
        # Wait for a lock rather than fail with "database is locked"; transactions begin where this storage's
        # sessions begin them (BEGIN IMMEDIATE, see _use_wal), not at pysqlite's first write.
        engine_kwargs["connect_args"] = {"timeout": 120, "isolation_level": None}
        engine_kwargs["execution_options"] = {_IMMEDIATE: True}
    if path is not None:
        _use_wal()
    else:  # a server: replace connections that a restart closed; calls wait for it to come back (_reconnect.py)
        engine_kwargs["pool_pre_ping"] = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = ReconnectingStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval(),
                grace_period=grace_period(),
                heartbeat_stale_trial_callback=failed_trial_callback,
            )
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        failure = InputError(f"cannot open storage {redact(url)}: {_without(url, detail)}")
    except (RuntimeError, ValueError, ImportError) as exc:
        failure = InputError(f"cannot open storage {redact(url)}: {_without(url, str(exc).splitlines()[0])}")
    else:
        if not _OPENED:
            atexit.register(close_storages)
        _OPENED.append(storage)
        return storage
    # The half-made storage (a schema of a newer Optuna, say) still holds connections: collected now, they close,
    # and SQLite removes the -wal and -shm files it made beside the database.
    gc.collect()
    raise failure


def _open_proxy(url: str, *, must_exist: bool) -> optuna.storages.BaseStorage:
    """A client of Optuna's gRPC storage proxy, once the proxy answers (waits up to ``GRPC_WAIT_S``)."""
    import grpc
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import GrpcStorageProxy

    host, port = grpc_address(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        storage = GrpcStorageProxy(host=host, port=port)
    try:
        storage.wait_server_ready(timeout=GRPC_WAIT_S)
    except (ConnectionError, grpc.FutureTimeoutError, grpc.RpcError):
        storage.close()
        raise InputError(f"cannot open storage {redact(url)}: no storage proxy answers there") from None
    if must_exist and not storage.get_all_studies():
        storage.close()
        raise InputError(f"no study database behind {redact(url)} (it holds no study)")
    return storage


# Storages opened by this process, closed by close_storages() when a command ends.
_OPENED: list[optuna.storages.RDBStorage] = []


def _open_here(path: Path) -> bool:
    """Whether a storage this process opened (and has not closed) holds the SQLite database ``path``."""
    for storage in _OPENED:
        opened = sqlite_path(storage.url)
        with contextlib.suppress(OSError):
            if opened is not None and opened.exists() and opened.samefile(path):
                return True
    return False


def close_storages() -> None:
    """Close the connections of every storage this process opened: SQLite then removes its ``-wal``/``-shm`` files.

    Every command and worker process calls it on its way out, whatever the outcome,
    and so does every public function that opens a storage (:func:`closes_storages`):
    a process that ends with its SQLite connections open leaves its ``-wal`` file
    unmerged, and the next process to close the database rewrites the file. A
    storage stays usable: it opens new connections when it is used again.

    Examples:
        >>> close_storages()  # nothing open: nothing to do
    """
    for storage in _OPENED:
        with contextlib.suppress(Exception):
            storage.remove_session()
            storage.engine.dispose()


_P = ParamSpec("_P")
_R = TypeVar("_R")
_calls = threading.local()


def closes_storages(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Make a public function close the storages' connections when its outermost call returns or raises.

    So that a Python call (``tune``, ``evaluate_holdout``, ``load_predictor``...)
    leaves no ``-wal``/``-shm`` file beside a SQLite database, as a command does.
    """

    @functools.wraps(function)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        depth = getattr(_calls, "depth", 0)
        _calls.depth = depth + 1
        try:
            return function(*args, **kwargs)
        finally:
            _calls.depth = depth
            if depth == 0:
                close_storages()

    return call


def _password(url: str) -> str | None:
    """The password (or user-info secret) in ``url``, if any."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _without(url: str, detail: object) -> str:
    """A driver's message about ``url`` with the URL's password masked, should it quote it."""
    text = str(detail)
    secret = _password(url)
    return text.replace(secret, "***") if secret else text


_WAL_SET = False


_IMMEDIATE = "search_begin_immediate"  # the execution option that marks this storage's SQLite engines


def _use_wal() -> None:
    """Put SQLite connections in WAL mode with a busy timeout; each session of this storage takes the write lock first.

    With WAL, one writer waits for another instead of failing with "database is
    locked". Python's ``sqlite3`` begins a transaction only at its first write,
    after the reads that decided the write, and Optuna's ``SELECT ... FOR UPDATE``
    does nothing on SQLite: two worker processes could both read a queued trial as
    waiting and both run it (optuna/optuna#4621). Optuna's storage calls run in ORM
    sessions; on the engines :func:`open_storage` makes (marked with the
    ``search_begin_immediate`` execution option, their connections in the driver's
    autocommit mode, as in SQLAlchemy's recipe for pysqlite) each session therefore
    begins with ``BEGIN IMMEDIATE``, so that a read and the write it decides are one
    step for every process. Core connections of those engines (Alembic's version
    checks, which Optuna holds open around a session) run each statement on its own
    and take no lock; other engines in the process are left as they are.
    """
    global _WAL_SET
    if _WAL_SET:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session, SessionTransaction

    @event.listens_for(Engine, "connect")
    def _pragmas(connection: Any, record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA busy_timeout=120000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    @event.listens_for(Session, "after_begin")
    def _begin(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
        if connection.get_execution_options().get(_IMMEDIATE) and not transaction.nested:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    _WAL_SET = True
