"""Where the project reads data and writes caches, studies and models."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "data_dir", "home_dir", "name_key", "settings_key"]


def data_dir() -> Path | None:
    """The data folder named by ``SEARCH_DATA_DIR``, or ``None`` when unset."""
    value = os.environ.get("SEARCH_DATA_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The cache folder: ``SEARCH_CACHE_DIR`` or the user's cache directory.

    Examples:
        >>> cache_dir().is_absolute()  # SEARCH_CACHE_DIR when set, else e.g. ~/.cache/search
        True
    """
    value = os.environ.get("SEARCH_CACHE_DIR")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("search"))


def home_dir() -> Path:
    """Where the default study database and models live: ``SEARCH_HOME`` or the user's data directory."""
    value = os.environ.get("SEARCH_HOME")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("search"))


def settings_key(settings: dict[str, Any]) -> str:
    """A short stable hash of JSON-able settings, used to name cache entries.

    Examples:
        >>> settings_key({"a": 1}) == settings_key({"a": 1})
        True
    """
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def name_key(name: str) -> str:
    """A file-name-safe key for a name from a user or a database: a short slug and a hash of the whole name.

    A name is a key, never a path: no separators, dots or control characters
    survive, and two names never share a key.

    Examples:
        >>> name_key("../../etc/passwd")
        'etc-passwd-3754d6cb3a38'
        >>> name_key("iris") != name_key("Iris")
        True
    """
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:40] or "study"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
