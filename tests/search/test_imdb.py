"""IMDB reading (archive and folder layouts), bad data, vectorizing and the split."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from search import SearchError
from search.data import load_holdout_data, load_search_data
from search.data._bow import load_imdb_bow
from search.data._imdb import find_imdb, read_imdb
from search.data._records import split_train_validation

REVIEWS = {
    "train/pos/0_9.txt": "A great film.<br /><br />Loved it",
    "train/pos/1_8.txt": "wonderful acting",
    "train/neg/0_2.txt": "terrible plot, awful",
    "train/neg/1_1.txt": "boring",
    "train/unsup/0_0.txt": "no label here",
    "test/pos/0_10.txt": "great great",
    "test/neg/0_3.txt": "awful",
}


def _write_folder(root: Path) -> Path:
    for name, text in REVIEWS.items():
        path = root / "aclImdb" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "aclImdb"


def _write_archive(root: Path) -> Path:
    archive = root / "aclImdb_v1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in REVIEWS.items():
            data = text.encode()
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


@pytest.mark.parametrize("layout", ["folder", "archive"])
def test_read_both_layouts_the_same_way(tmp_path: Path, layout: str) -> None:
    path = _write_folder(tmp_path) if layout == "folder" else _write_archive(tmp_path)
    data = read_imdb(path, splits=("train", "test", "unsup"))
    assert data["train"].ids == ["train/pos/0_9", "train/pos/1_8", "train/neg/0_2", "train/neg/1_1"]
    assert data["train"].labels.tolist() == [1, 1, 0, 0]
    assert data["train"].texts[0] == REVIEWS["train/pos/0_9.txt"]
    assert data["test"].labels.tolist() == [1, 0]
    assert data["unsup"].labels.tolist() == [-1]


def test_find_imdb_in_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _write_archive(tmp_path)
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path))
    assert find_imdb() == archive


def test_missing_data_folder_and_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(SearchError, match="data folder .*nope does not exist"):
        find_imdb()
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path))
    with pytest.raises(SearchError, match="no aclImdb/ or aclImdb_v1.tar.gz in data folder"):
        find_imdb()


def test_corrupt_archive(tmp_path: Path) -> None:
    archive = _write_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(SearchError, match="unreadable or corrupt"):
        read_imdb(archive)


def test_vectorized_arrays_are_cached_float32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_archive(tmp_path)
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(tmp_path / "cache"))
    arrays = load_imdb_bow(vocab_size=5)
    assert arrays.x_train.dtype == np.float32 and arrays.x_train.shape == (4, 5)
    assert set(np.unique(arrays.x_train.toarray())) <= {0.0, 1.0}
    entries = list((tmp_path / "cache" / "imdb-bow").iterdir())
    assert len(entries) == 1
    # A second load reads the cache: removing the data does not matter any more.
    (tmp_path / "aclImdb_v1.tar.gz").rename(tmp_path / "elsewhere.tar.gz")
    (tmp_path / "aclImdb").mkdir()  # find_imdb still needs something to point at
    with pytest.raises(SearchError):
        load_imdb_bow(vocab_size=6)  # a new setting needs the data
    (tmp_path / "aclImdb").rmdir()
    (tmp_path / "elsewhere.tar.gz").rename(tmp_path / "aclImdb_v1.tar.gz")
    again = load_imdb_bow(vocab_size=5)
    assert (again.x_train != arrays.x_train).nnz == 0


def test_split_is_seeded_and_stratified() -> None:
    labels = np.array([1] * 500 + [0] * 500)  # sorted by label, as the archive is
    train, val = split_train_validation(labels, validation_size=400, seed=1)
    assert len(val) == 400 and len(train) == 600
    assert labels[val].mean() == pytest.approx(0.5)
    assert not set(train) & set(val)
    again, _ = split_train_validation(labels, validation_size=400, seed=1)
    other, _ = split_train_validation(labels, validation_size=400, seed=2)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_real_imdb_split(imdb_available: Path) -> None:
    data = load_search_data({"kind": "imdb-bow", "validation_size": 10000}, seed=42)
    assert data.x_train.shape == (15000, 10000) and data.x_val.shape == (10000, 10000)
    assert data.x_train.dtype == np.float32
    assert abs(float(data.y_val.mean()) - 0.5) < 0.01
    assert not set(data.train_ids) & set(data.val_ids)
    assert all(i.startswith("train/") for i in data.train_ids + data.val_ids)
    holdout = load_holdout_data({"kind": "imdb-bow"}, seed=42)
    assert holdout.x_test.shape == (25000, 10000)
    assert holdout.y_test.mean() == pytest.approx(0.5)
