"""Where the project reads data and writes caches, studies and models."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "data_dir", "home_dir", "settings_key"]


def data_dir() -> Path | None:
    """The data folder named by ``SEARCH_DATA_DIR``, or ``None`` when unset."""
    value = os.environ.get("SEARCH_DATA_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The cache folder: ``SEARCH_CACHE_DIR`` or the user's cache directory.

    Example:
        >>> cache_dir().name
        'search'
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

    Example:
        >>> settings_key({"a": 1}) == settings_key({"a": 1})
        True
    """
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
