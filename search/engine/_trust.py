"""What a process may run of a stored study: space modules by exact name, pickles proven by digest and signature.

A definition read from a storage is data. Its space reference is trusted only
when it names exactly a shipped space, an installed package's entry point, or a
module this process allowed, and never a path through a module's attributes.
Its pickled files (a build function, stored data, a holdout's preprocessing)
are read only when their bytes match the recorded SHA-256 and the process
trusts them: it was given them in memory, it allows ``pickled``, or the
recorded digest carries a signature made with this user's secret key
(HMAC-SHA256, as Jupyter signs notebooks), so that a user's own study opens in a
fresh process without any flag while a database writer cannot forge one.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import importlib.util
import inspect
import os
import pkgutil
import re
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from search.data import given_digests, home_dir
from search.engine._artifacts import Artifacts
from search.engine._config import SIGNATURE, StudyConfig
from search.errors import InputError

__all__ = [
    "ARTIFACT_PREFIX",
    "KEY_ENV",
    "PICKLED",
    "REFERENCE",
    "allowed_modules",
    "check_loaded",
    "check_pickle",
    "check_reference",
    "check_trusted",
    "creator_allows",
    "given",
    "keep_given",
    "key_path",
    "read_stored_pickle",
    "shipped_spaces",
    "sign",
    "verify",
]

PICKLED = "pickled"
"""The name that allows a study's pickled files (a build function, stored data) without a signature."""

KEY_ENV = "SEARCH_KEY_FILE"
"""The environment variable naming the signing key file (default: ``signing.key`` in the user's data folder)."""

ARTIFACT_PREFIX = "artifact:"
"""How a definition names a pickled space in the study's artifacts: ``artifact:functions/<file>``."""

REFERENCE = "space reference"
"""What a signature of a stored space reference is made under (see :func:`sign`): the reference is its "digest"."""

_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_KEY_BYTES = 32
_CONTEXT = b"keras-optuna-search signature v1"


def allowed_modules(allow: Sequence[str] = ()) -> set[str]:
    """What this process allows of a stored definition by name: ``allow``, ``SEARCH_ALLOW_MODULES``, ``pickled``.

    Examples:
        >>> sorted(allowed_modules(["my_project.spaces"]))
        ['my_project.spaces']
    """
    names = {name.strip() for name in allow if name.strip()}
    return names | {n.strip() for n in os.environ.get("SEARCH_ALLOW_MODULES", "").split(",") if n.strip()}


def shipped_spaces() -> frozenset[str]:
    """The space modules shipped with this package (``spaces.mlp``, ...), found without importing them.

    Examples:
        >>> sorted(shipped_spaces())
        ['spaces.bow', 'spaces.mlp', 'spaces.text']
    """
    spec = importlib.util.find_spec("spaces")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    found = pkgutil.iter_modules(list(spec.submodule_search_locations))
    return frozenset(f"spaces.{m.name}" for m in found if not m.name.startswith("_"))


def _entry_points() -> set[str]:
    """The exact references installed packages register as spaces (entry points ``search.spaces``)."""
    return {ep.value.strip() for ep in importlib.metadata.entry_points(group="search.spaces")}


def check_reference(reference: str, allow: Sequence[str] = (), signature: Any = None) -> None:
    """Refuse a stored space reference (``module`` or ``module:attribute``) that this process does not trust.

    Trusted: exactly a shipped space module, exactly an installed entry point's
    value, a module that this process allowed (``--allow-module``), or a
    reference whose ``signature`` this user's key made (what :func:`search.tune`
    stores for a build function of the user's own module); with at most one
    attribute of the module (no path through what the module imported).

    Raises:
        search.InputError: One line naming the reference and how to allow it.

    Examples:
        >>> check_reference("spaces.mlp")
        >>> check_reference("search.engine._trust:os.system")
        Traceback (most recent call last):
        ...
        search.errors.InputError: the study's definition names 'search.engine._trust:os.system': ...
        >>> check_reference("my_project.spaces:build", ["my_project.spaces"])
    """
    module, _, attribute = reference.partition(":")
    if not _MODULE.fullmatch(module):
        raise InputError(f"the study's definition names space module {module!r}, which is not a module name")
    if attribute and not _IDENTIFIER.fullmatch(attribute):
        raise InputError(
            f"the study's definition names {reference!r}: a stored space may name one attribute of its module, "
            "not a path through it"
        )
    if reference in shipped_spaces() or reference in _entry_points() or module in allowed_modules(allow):
        return
    if verify(REFERENCE, reference, signature):
        return
    if module in shipped_spaces():
        raise InputError(f"the study's definition names {reference!r}: a shipped space is named by its module alone")
    raise InputError(
        f"the study's definition names space module {module!r}, which this process does not trust: "
        f"allow it with --allow-module {module} (or SEARCH_ALLOW_MODULES={module})"
    )


def check_loaded(reference: str, obj: Any) -> None:
    """Refuse what a stored reference loaded unless it is a space or a build function defined in its module.

    Raises:
        search.InputError: Something else (a function the module imported, a class, a value).

    Examples:
        >>> import json
        >>> check_loaded("json:dumps", json.dumps)
        >>> check_loaded("json:JSONDecodeError", json.JSONDecodeError)
        Traceback (most recent call last):
        ...
        search.errors.InputError: 'json:JSONDecodeError' is neither a space nor a build function defined in json
    """
    module, _, attribute = reference.partition(":")
    if not attribute:
        return  # a module: load_space checks its suggest and build
    is_space = (
        not inspect.isclass(obj) and callable(getattr(obj, "suggest", None)) and callable(getattr(obj, "build", None))
    )
    defined_here = inspect.isfunction(obj) and obj.__module__ == module
    if not (is_space or defined_here):
        raise InputError(f"{reference!r} is neither a space nor a build function defined in {module}")


def key_path() -> Path:
    """The signing key file: ``SEARCH_KEY_FILE``, else ``signing.key`` in the user's data folder.

    Examples:
        >>> key_path().name
        'signing.key'
    """
    value = os.environ.get(KEY_ENV, "").strip()
    return Path(value).expanduser() if value else home_dir() / "signing.key"


def _key(*, create: bool) -> bytes | None:
    """This user's secret key, created (owner-only) on first use when ``create``; ``None`` when there is none.

    Raises:
        search.InputError: A key file that others may read or write, or that is not a key.
    """
    path = key_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return _key(create=False)
        with os.fdopen(handle, "w") as out:
            out.write(secrets.token_hex(_KEY_BYTES) + "\n")
        return _key(create=False)
    except OSError as exc:
        raise InputError(f"cannot read the signing key {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
        raise InputError(
            f"the signing key {path} is not a file that only you can read and write (chmod 600 {path}); "
            "it signs what your studies may unpickle"
        )
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        raise InputError(f"the signing key {path} is not a key of this tool") from None
    if len(key) < 16:
        raise InputError(f"the signing key {path} is too short to be a key of this tool")
    return key


def _message(name: str, digest: str) -> bytes:
    return b"\0".join((_CONTEXT, name.encode(), digest.encode()))


def sign(name: str, digest: str) -> str:
    """The signature of a file's SHA-256 ``digest`` under its artifact ``name``, with this user's key.

    Examples:
        >>> signature = sign("functions/mine.pkl", "ab" * 32)
        >>> verify("functions/mine.pkl", "ab" * 32, signature), verify("data/mine.joblib", "ab" * 32, signature)
        (True, False)
    """
    key = _key(create=True)
    assert key is not None
    return hmac.new(key, _message(name, digest), hashlib.sha256).hexdigest()


def verify(name: str, digest: str, signature: Any) -> bool:
    """Whether ``signature`` is this user's signature of ``digest`` under ``name`` (never raises for bad input).

    Raises:
        search.InputError: The key file exists but is unsafe (see :func:`key_path`).
    """
    if not isinstance(signature, str) or not isinstance(digest, str) or not signature:
        return False
    key = _key(create=False)
    if key is None:
        return False
    expected = hmac.new(key, _message(name, digest), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def check_pickle(what: str, name: str, digest: Any, signature: Any, allow: Sequence[str] = ()) -> None:
    """Refuse a pickled file of a study that this process has no reason to trust.

    Trusted when ``pickled`` is allowed here, or ``signature`` is this user's
    signature of ``digest`` (see :func:`sign`). The file's bytes must still
    match ``digest``: the caller checks that before unpickling.

    Raises:
        search.InputError: One line naming the file and how to allow it.

    Examples:
        >>> check_pickle("build function", "functions/mine.pkl", "ab" * 32, "not a signature")
        Traceback (most recent call last):
        ...
        search.errors.InputError: the study's build function (functions/mine.pkl) is a pickled file that ...
        >>> check_pickle("build function", "functions/mine.pkl", "ab" * 32, None, ["pickled"])
    """
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InputError(f"the study's {what} ({name}) has no SHA-256 recorded with it; refused")
    if PICKLED in allowed_modules(allow) or verify(name, digest, signature):
        return
    raise InputError(
        f"the study's {what} ({name}) is a pickled file that your signing key did not sign: "
        f"allow it with --allow-module {PICKLED} (or SEARCH_ALLOW_MODULES={PICKLED}) only if you trust "
        "whoever can write the study's storage"
    )


# Objects given to this process (a notebook's build function, its callbacks), by the SHA-256 of their pickle.
_GIVEN: dict[str, Any] = {}


def keep_given(obj: Any, digest: str) -> None:
    """Let this process resolve a pickle of digest ``digest`` to ``obj``, which it was given, without reading it."""
    _GIVEN[digest] = obj


def given(digest: Any) -> Any:
    """What this process was given for a pickle of ``digest`` (see :func:`keep_given`), or ``None``."""
    return _GIVEN.get(digest) if isinstance(digest, str) else None


def creator_allows(config: StudyConfig) -> list[str]:
    """What the process that wrote a definition trusts of it: its own space module and pickled files.

    Passed to the worker processes it starts (they read the definition from the storage).

    Examples:
        >>> from search.engine import load_study_config
        >>> creator_allows(load_study_config("iris"))
        ['spaces.mlp']
    """
    ref = config.space_module
    pickled = ref.startswith(ARTIFACT_PREFIX) or config.data.get("kind") == "stored" or bool(config.callbacks)
    allows = [PICKLED] if pickled else []
    if not ref.startswith(ARTIFACT_PREFIX):
        allows.append(ref.partition(":")[0])
    return allows


def check_trusted(config: StudyConfig, allow: Sequence[str] = ()) -> None:
    """Refuse a stored definition that would make this process run code it was not told to trust.

    Its space reference must pass :func:`check_reference`; each pickled file it
    names (a build function, stored data) must have been given to this process,
    be signed with this user's key, or be allowed (``pickled``) here; see
    :func:`check_pickle`. Nothing is imported or read.

    Raises:
        search.InputError: One line naming what is not trusted and how to allow it.

    Examples:
        >>> from search.engine import load_study_config
        >>> check_trusted(load_study_config("iris"))
        >>> check_trusted(load_study_config("iris").replace(space={"module": "os:system"}))
        Traceback (most recent call last):
        ...
        search.errors.InputError: the study's definition names space module 'os', which this process does not trust: ...
    """
    ref = config.space_module
    if ref.startswith(ARTIFACT_PREFIX):
        digest = config.space.get("sha256")
        if given(digest) is None:
            name = ref.removeprefix(ARTIFACT_PREFIX)
            check_pickle("build function", name, digest, config.space.get(SIGNATURE), allow)
    else:
        check_reference(ref, allow, config.space.get(SIGNATURE))
    if config.callbacks and given(config.callbacks.get("sha256")) is None:
        name = str(config.callbacks.get("file"))
        check_pickle("callbacks", name, config.callbacks.get("sha256"), config.callbacks.get(SIGNATURE), allow)
    if config.data.get("kind") == "stored":
        digest = config.data.get("sha256")
        streamed = isinstance(digest, str) and digest.startswith("memory-")  # nothing to unpickle: the loader says so
        if not streamed and digest not in given_digests():
            name = f"data/{config.data.get('file')}"
            check_pickle("data", name, digest, config.data.get(SIGNATURE), allow)


def read_stored_pickle(
    what: str, name: str, table: dict[str, Any], store: Artifacts | None, allow: Sequence[str] = ()
) -> Any:
    """Unpickle the file ``name`` of a study's artifacts, once it is proven: its key, its trust, its SHA-256.

    Args:
        what: What the file holds, for messages (``"build function"``, ``"callbacks"``).
        name: Its key in the store (``functions/...``): a key, never a path.
        table: Its record in the definition: ``sha256`` and this user's signature.
        store: The study's artifact store.
        allow: Modules this process allows (``pickled`` trusts any signed or unsigned file).

    Raises:
        search.InputError: A key outside ``functions/``, an untrusted, missing or altered file.
    """
    digest = table.get("sha256")
    if store is None or not name.startswith("functions/") or ".." in name.split("/"):
        raise InputError(f"the study's {what} {name!r} is not a file of its artifacts")
    check_pickle(what, name, digest, table.get(SIGNATURE), allow)
    blob = store.read(name)
    where = store.describe(name)
    if blob is None:
        raise InputError(f"the study's {what} file {where} is missing (was the artifact store moved?)")
    if hashlib.sha256(blob).hexdigest() != digest:
        raise InputError(f"the study's {what} file {where} does not match the SHA-256 recorded with it; refused")
    import cloudpickle

    return cloudpickle.loads(blob)
