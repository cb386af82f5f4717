"""The Large Movie Review Dataset (IMDB) from its official archive layout."""

from __future__ import annotations

import dataclasses
import re
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from search.data._paths import cache_dir, data_dir
from search.data._records import Dataset, check_settings, subsample
from search.data._task import Task
from search.errors import InputError

__all__ = ["IMDB_URL", "ImdbSplit", "find_imdb", "imdb_text_dataset", "read_imdb"]

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")


@dataclasses.dataclass(frozen=True)
class ImdbSplit:
    """Reviews of one split, in a fixed order (label, then review id).

    Attributes:
        texts: Raw review strings.
        labels: ``1`` positive, ``0`` negative, ``-1`` unlabeled (``int8``).
        ids: ``"<split>/<label>/<id>_<rating>"`` for each review.
    """

    texts: list[str]
    labels: np.ndarray
    ids: list[str]


def find_imdb() -> Path:
    """Locate the IMDB data: ``aclImdb/`` or the archive in ``SEARCH_DATA_DIR``.

    Without ``SEARCH_DATA_DIR``, the archive is downloaded once from the official
    URL with ``keras.utils.get_file`` into the cache folder.

    Raises:
        InputError: The folder is missing, holds neither form, or the download fails.

    Examples:
        (needs the IMDB data)

        >>> find_imdb().name in ("aclImdb", "aclImdb_v1.tar.gz")  # doctest: +SKIP
        True
    """
    folder = data_dir()
    if folder is not None:
        if not folder.is_dir():
            raise InputError(f"data folder {folder} does not exist (SEARCH_DATA_DIR)")
        for candidate in (folder / "aclImdb", folder / ARCHIVE_NAME):
            if candidate.exists():
                return candidate
        raise InputError(f"no aclImdb/ or {ARCHIVE_NAME} in data folder {folder} (SEARCH_DATA_DIR)")
    import keras

    target = cache_dir() / "downloads"
    target.mkdir(parents=True, exist_ok=True)
    try:
        return Path(keras.utils.get_file(ARCHIVE_NAME, origin=IMDB_URL, cache_dir=str(target), cache_subdir=""))
    except Exception as exc:  # keras wraps network errors in several types
        hint = f"set SEARCH_DATA_DIR to a folder holding {ARCHIVE_NAME}"
        raise InputError(f"could not download {IMDB_URL} ({type(exc).__name__}); {hint}") from None


def read_imdb(path: Path, *, splits: tuple[str, ...] = ("train", "test")) -> dict[str, ImdbSplit]:
    """Read reviews from an ``aclImdb/`` folder or an ``aclImdb_v1.tar.gz`` archive.

    Args:
        path: The folder or the archive.
        splits: Which of ``"train"``, ``"test"`` and ``"unsup"`` to read
            (``"unsup"`` holds the 50,000 unlabeled training reviews).

    Raises:
        InputError: The archive is unreadable or a labelled split is missing.

    Examples:
        (needs the IMDB data)

        >>> data = read_imdb(find_imdb(), splits=("test",))  # doctest: +SKIP
        >>> len(data["test"].texts)  # doctest: +SKIP
        25000
    """
    found: dict[str, list[tuple[int, int, str, str]]] = {name: [] for name in splits}

    def add(name: str, raw: bytes) -> None:
        match = _MEMBER.search(name)
        if match is None:
            return
        split, label, review_id, rating = match.groups()
        key = "unsup" if label == "unsup" else split
        if key not in found:
            return
        value = {"pos": 1, "neg": 0, "unsup": -1}[label]
        found[key].append((-value, int(review_id), f"{split}/{label}/{review_id}_{rating}", raw.decode("utf-8")))

    try:
        if path.is_dir():
            for file in path.glob("*/*/*.txt"):
                add(file.relative_to(path.parent).as_posix(), file.read_bytes())
        else:
            with tarfile.open(path, "r:*") as archive:
                for member in archive:
                    if member.isfile() and _MEMBER.search(member.name):
                        handle = archive.extractfile(member)
                        if handle is not None:
                            add(member.name, handle.read())
    except (tarfile.TarError, OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        detail = str(exc).splitlines()[0].rstrip(":")
        raise InputError(f"IMDB data {path} is unreadable or corrupt ({type(exc).__name__}: {detail})") from None
    result = {}
    for name, rows in found.items():
        if not rows:
            raise InputError(f"IMDB data {path} has no {name} reviews")
        rows.sort()
        result[name] = ImdbSplit(
            texts=[r[3] for r in rows],
            labels=np.array([-r[0] for r in rows], dtype=np.int8),
            ids=[r[2] for r in rows],
        )
    return result


def imdb_text_dataset(settings: dict[str, Any], seed: int) -> Dataset:
    """The ``imdb-text`` loader: raw review texts (an object array of strings) and their labels."""
    check_settings(settings, {"kind", "source", "validation_size", "subset"}, "imdb-text")
    if settings.get("source", "archive") != "archive":
        raise InputError(f"imdb-text reads the aclImdb archive only (source = 'archive'), got {settings['source']!r}")
    splits = read_imdb(find_imdb())
    train, test = splits["train"], splits["test"]
    train_rows, test_rows = np.arange(len(train.texts)), np.arange(len(test.texts))
    if settings.get("subset"):  # the same balanced sample of each split as imdb-bow takes
        train_rows = subsample(train.labels, settings["subset"], seed)
        test_rows = subsample(test.labels, settings["subset"], seed)
    return Dataset(
        x_train=np.array([train.texts[i] for i in train_rows], dtype=object),
        y_train=train.labels[train_rows].astype(np.float32),
        x_test=np.array([test.texts[i] for i in test_rows], dtype=object),
        y_test=test.labels[test_rows].astype(np.float32),
        task=Task("binary"),
        train_ids=[train.ids[i] for i in train_rows],
        test_ids=[test.ids[i] for i in test_rows],
        class_names=["negative", "positive"],
    )
