"""Where a study keeps its files: a folder (local or shared) or an S3 bucket, named by one location string.

Checkpoints, holdout models, their preprocessing, stored data, pickled build
functions, reports and pictures are all written and read through an
:class:`Artifacts` store, by names inside it (``models/<key>.keras``); a name is
built by this package from keys, never taken from a user or a database as a path.
Each store is also an Optuna artifact store (``open_reader``/``write``/``remove``),
so the same object goes to ``optuna.artifacts.upload_artifact`` and to
optuna-dashboard.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

from search.data import cache_dir, home_dir, settings_key
from search.engine._storage import is_proxy, redact, sqlite_path
from search.errors import InputError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "ARTIFACTS_ATTR",
    "Artifacts",
    "FolderArtifacts",
    "S3Artifacts",
    "artifacts_at",
    "check_location",
    "default_location",
    "study_artifacts",
    "upload_named",
]

# The study user attribute that keeps the location given when the study was created.
ARTIFACTS_ATTR = "artifacts"


@runtime_checkable
class Artifacts(Protocol):
    """The contract of an artifact store: named blobs, written whole or not at all.

    ``open_reader``, ``write`` and ``remove`` are Optuna's ``ArtifactStore``
    protocol (``artifact_id`` is a name); the rest is what the engine needs.
    """

    location: str

    def read(self, name: str) -> bytes | None:
        """The blob, or ``None`` when there is none."""

    def put(self, name: str, blob: bytes) -> None:
        """Write ``blob`` under ``name``: a reader sees the old blob or the new one, never part of one."""

    def names(self, prefix: str) -> list[str]:
        """The names that start with ``prefix`` (a folder, ending in ``/``)."""

    def remove(self, artifact_id: str) -> None:
        """Delete one name (nothing when it is absent)."""

    def check_writable(self, names: Sequence[str] = ()) -> None:
        """Raise :class:`search.InputError` naming why ``names`` cannot be written; write nothing."""

    def describe(self, name: str) -> str:
        """Where ``name`` is, for people: a path or an ``s3://`` URL."""

    def open_reader(self, artifact_id: str) -> BinaryIO:
        """Optuna's protocol: a reader of the blob (``optuna.artifacts.exceptions.ArtifactNotFound`` if none)."""

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        """Optuna's protocol: write what ``content_body`` reads under ``artifact_id``."""


def _parts(name: str) -> tuple[str, ...]:
    """The parts of a name inside a store; refuses absolute names, ``..`` and empty parts.

    Examples:
        >>> _parts("models/x.keras")
        ('models', 'x.keras')
        >>> _parts("../etc/passwd")
        Traceback (most recent call last):
        ...
        search.errors.InputError: artifact name '../etc/passwd' is not inside the artifact store
    """
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise InputError(f"artifact name {name!r} is not inside the artifact store")
    return path.parts


class FolderArtifacts:
    """A folder, local or on a filesystem every machine mounts (NFS, Lustre, a bind mount).

    Examples:
        >>> import tempfile
        >>> store = FolderArtifacts(Path(tempfile.mkdtemp()) / "artifacts")
        >>> store.put("models/a.bin", b"x")
        >>> store.read("models/a.bin"), store.read("models/b.bin"), store.names("models/")
        (b'x', None, ['models/a.bin'])
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def path(self, name: str) -> Path:
        """The file of ``name``."""
        return self.root.joinpath(*_parts(name))

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def put(self, name: str, blob: bytes) -> None:
        self._put(name, io.BytesIO(blob))

    def _put(self, name: str, source: BinaryIO) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(source, out)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def names(self, prefix: str) -> list[str]:
        folder = self.root.joinpath(*_parts(prefix.rstrip("/")))
        found = []
        # os.walk skips a folder another worker removes meanwhile (a finished trial's checkpoints); rglob raises.
        for here, _, files in os.walk(folder):
            relative = Path(here).relative_to(self.root)
            found += [str(PurePosixPath(*relative.parts, f)) for f in files if not f.endswith(".part")]
        return sorted(found)

    def remove(self, artifact_id: str) -> None:
        named = _aliased(self, artifact_id)
        if named is not None:
            self.remove(named)
            artifact_id = _alias(artifact_id)
        path = self.path(artifact_id)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # leave no empty folders behind (only those now empty)
            for parent in path.parents:
                if parent == self.root or not parent.is_relative_to(self.root):
                    break
                parent.rmdir()

    def check_writable(self, names: Sequence[str] = ()) -> None:
        targets = [self.path(name) for name in names] or [self.root / "x"]
        for target in targets:
            if target.exists() and not (target.is_file() and os.access(target, os.W_OK)):
                raise InputError(f"cannot write the study's artifacts: {target} is read-only or not a file")
            folder = next((p for p in target.parents if p.exists()), None)
            if folder is None or not folder.is_dir():
                raise InputError(f"cannot write the study's artifacts in {self.root}: {folder} is not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise InputError(f"cannot write the study's artifacts in {self.root}: folder {folder} is read-only")

    def describe(self, name: str) -> str:
        return str(self.path(name))

    def open_reader(self, artifact_id: str) -> BinaryIO:
        from optuna.artifacts.exceptions import ArtifactNotFound

        try:
            return self.path(_aliased(self, artifact_id) or artifact_id).open("rb")
        except FileNotFoundError:
            raise ArtifactNotFound(f"no artifact {artifact_id!r} in {self.root}") from None

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self._put(artifact_id, content_body)

    def __repr__(self) -> str:
        return f"FolderArtifacts({self.location!r})"


class S3Artifacts:
    """``s3://bucket/prefix`` on AWS or any S3-compatible server, through Optuna's ``Boto3ArtifactStore``.

    The endpoint and credentials are boto3's own settings: ``AWS_ENDPOINT_URL``
    (e.g. ``http://minio:9000``), ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_DEFAULT_REGION`` or a profile. An object is stored whole by one request,
    so a reader never sees part of one.
    """

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        from optuna.artifacts import Boto3ArtifactStore

        try:
            import boto3
        except ImportError:
            raise InputError("an s3:// artifact store needs boto3: pip install 'keras-optuna-search[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = client or boto3.client("s3")
        self._store = Boto3ArtifactStore(bucket, client=self.client)

    def _key(self, name: str) -> str:
        _parts(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def read(self, name: str) -> bytes | None:
        from optuna.artifacts.exceptions import ArtifactNotFound

        try:
            with self._store.open_reader(self._key(name)) as reader:
                return reader.read()
        except ArtifactNotFound:
            return None

    def put(self, name: str, blob: bytes) -> None:
        self._store.write(self._key(name), io.BytesIO(blob))

    def names(self, prefix: str) -> list[str]:
        start = self._key(prefix.rstrip("/")) + "/"
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            for item in page.get("Contents", []):
                found.append(item["Key"][len(self.prefix) + 1 :] if self.prefix else item["Key"])
        return sorted(found)

    def remove(self, artifact_id: str) -> None:
        named = _aliased(self, artifact_id)
        if named is not None:
            self._store.remove(self._key(named))
            artifact_id = _alias(artifact_id)
        self._store.remove(self._key(artifact_id))

    def check_writable(self, names: Sequence[str] = ()) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for name in names:
            self._key(name)
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"cannot use the artifact store {redact(self.location)}: {detail}") from None

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self._store.open_reader(self._key(_aliased(self, artifact_id) or artifact_id))

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self._store.write(self._key(artifact_id), content_body)

    def __repr__(self) -> str:
        return f"S3Artifacts({self.location!r})"


_ALIASES = "aliases/"  # artifact id -> the name its one copy is kept under (see upload_named)


def _alias(artifact_id: str) -> str:
    return f"{_ALIASES}{artifact_id}"


def _aliased(store: Artifacts, artifact_id: str) -> str | None:
    """The name an artifact uploaded with :func:`upload_named` is kept under, ``None`` for other artifacts."""
    if "/" in artifact_id:
        return None
    blob = store.read(_alias(artifact_id))
    return None if blob is None else blob.decode()


class _Named:
    """The store as Optuna's ``upload_artifact`` sees it for one upload: the file goes under ``name``, once."""

    def __init__(self, store: Artifacts, name: str) -> None:
        self.store, self.name = store, name
        _parts(name)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.store.put(self.name, content_body.read())
        self.store.put(_alias(artifact_id), self.name.encode())

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.store.open_reader(artifact_id)

    def remove(self, artifact_id: str) -> None:
        self.store.remove(artifact_id)


def upload_named(store: Artifacts, study: optuna.Study, path: Path, name: str, *, mimetype: str) -> str:
    """Attach the file ``path`` to ``study`` as an Optuna artifact, kept once, under ``name`` in the store.

    optuna-dashboard lists it and serves it by its artifact id (an alias to
    ``name``, resolved by the store's ``open_reader``); this tool and its users
    find it under ``name`` (``models/<key>.keras``). Returns the artifact id.

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> store = FolderArtifacts(Path(tempfile.mkdtemp()))
        >>> study = optuna.create_study()
        >>> source = Path(tempfile.mkdtemp()) / "m.bin"
        >>> _ = source.write_bytes(b"weights")
        >>> artifact_id = upload_named(store, study, source, "models/m.bin", mimetype="application/octet-stream")
        >>> store.read("models/m.bin"), store.open_reader(artifact_id).read()
        (b'weights', b'weights')
    """
    from optuna.artifacts import upload_artifact

    named = _Named(store, name)
    return str(upload_artifact(artifact_store=named, file_path=str(path), study_or_trial=study, mimetype=mimetype))


def check_location(location: str) -> str:
    """The normalized location: ``s3://bucket[/prefix]``, or an absolute folder (``file://`` allowed).

    Raises:
        search.InputError: An unknown scheme or an S3 URL without a bucket.

    Examples:
        >>> check_location("s3://models/studies/")
        's3://models/studies'
        >>> check_location("file:///srv/artifacts")
        '/srv/artifacts'
        >>> check_location("gs://x")
        Traceback (most recent call last):
        ...
        search.errors.InputError: unsupported artifact store 'gs://x' (a folder or s3://bucket/prefix)
    """
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if "@" in bucket or "?" in location:
            raise InputError(
                f"artifact store {redact(location)!r}: credentials do not go in an s3:// URL (boto3 reads them from "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)"
            )
        if not bucket:
            raise InputError(f"artifact store {location!r} names no bucket (s3://bucket/prefix)")
        return f"s3://{bucket}/{prefix.strip('/')}".rstrip("/")
    if location.startswith("file://"):
        location = location.removeprefix("file://")
    elif "://" in location:
        raise InputError(f"unsupported artifact store {redact(location)!r} (a folder or s3://bucket/prefix)")
    if not location.strip():
        raise InputError("the artifact store is an empty name (a folder or s3://bucket/prefix)")
    return str(Path(location).expanduser().absolute())


def artifacts_at(location: str) -> FolderArtifacts | S3Artifacts:
    """The store at ``location`` (see :func:`check_location`); opening it writes nothing.

    Examples:
        >>> artifacts_at("/tmp/a")
        FolderArtifacts('/tmp/a')
    """
    location = check_location(location)
    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        return S3Artifacts(bucket, prefix)
    return FolderArtifacts(Path(location))


def default_location(url: str) -> str:
    """Where a study that was given no store keeps its artifacts.

    ``SEARCH_ARTIFACTS`` if set; next to a SQLite file as ``<file>.artifacts``;
    else a folder of this machine's ``SEARCH_HOME/artifacts`` named after the URL.

    Examples:
        >>> default_location("sqlite:////tmp/x.db")  # with SEARCH_ARTIFACTS unset
        '/tmp/x.db.artifacts'
    """
    value = os.environ.get("SEARCH_ARTIFACTS")
    if value:
        return check_location(value)
    path = None if is_proxy(url) else sqlite_path(url)
    if path is not None:
        return str(path.with_name(path.name + ".artifacts"))
    return str(home_dir() / "artifacts" / settings_key({"url": url}))


def study_artifacts(url: str, study: optuna.Study | None = None, *, given: str | None = None) -> Artifacts:
    """The artifact store of a study: ``given``, else the one stored on the study, else :func:`default_location`.

    Args:
        url: The storage URL.
        study: The study (its user attribute ``artifacts``, set when it was created
            with a store).
        given: A location named by this process (``--artifacts``), used instead of
            the stored one (the same share mounted under another path, say).
    """
    stored = None if study is None else study.user_attrs.get(ARTIFACTS_ATTR)
    location = given or (stored if isinstance(stored, str) and stored else None) or default_location(url)
    return artifacts_at(location)


@contextlib.contextmanager
def local_copy(store: Artifacts, name: str) -> Iterator[Path | None]:
    """A local file holding ``name`` while the block runs (``None`` when there is none).

    A folder store yields its own file; any other store a temporary copy, removed after.
    """
    if isinstance(store, FolderArtifacts):
        path = store.path(name)
        yield path if path.is_file() else None
        return
    blob = store.read(name)
    if blob is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="search-artifact-") as folder:
        path = Path(folder) / PurePosixPath(name).name
        path.write_bytes(blob)
        yield path


def cached_copy(store: Artifacts, name: str) -> Path | None:
    """A local file holding ``name`` that outlives the call: the store's own for a folder, else a cache copy.

    For a remote store the copy is in ``SEARCH_CACHE_DIR/artifacts/<key of the store>/``,
    downloaded again every call (its reader checks its SHA-256 anyway).
    """
    if isinstance(store, FolderArtifacts):
        path = store.path(name)
        return path if path.is_file() else None
    blob = store.read(name)
    if blob is None:
        return None
    path = cache_dir() / "artifacts" / settings_key({"store": store.location}) / Path(*_parts(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    FolderArtifacts(path.parent).put(path.name, blob)
    return path
