"""TF-Hub-format text-embedding modules: export from word vectors, pretrain offline, resolve handles.

A TF-Hub TF2 text-embedding module (``gnews-swivel``, ``nnlm``) is a SavedModel
with an ``embeddings`` variable (vocabulary rows, then out-of-vocabulary bucket
rows), an ``assets/tokens.txt`` vocabulary, and a ``__call__`` that takes a 1-D
string tensor, strips punctuation (``\\pP``), splits on spaces, maps tokens to
rows (unknown tokens to ``vocabulary + to_hash_bucket_fast(token, buckets)``) and
combines the rows of each sentence with ``safe_embedding_lookup_sparse`` and the
``sqrtn`` combiner. :func:`export_text_embedding` writes exactly that structure,
so ``hub.load(path)`` loads it like a downloaded module.

:func:`pretrain_imdb_vectors` learns word vectors offline from the 50,000
unlabeled IMDB reviews, Swivel-style: window co-occurrence counts, positive
PMI, truncated SVD. The handle ``search:imdb-unsup-<dim>dim`` names such a
module; :func:`resolve_text_handle` builds it on first use and caches it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from search.data import cache_dir, find_imdb, read_imdb, settings_key
from search.errors import InputError

__all__ = [
    "BUILTIN_PREFIX",
    "DEFAULT_TEXT_HANDLE",
    "TextModule",
    "export_text_embedding",
    "import_hub",
    "load_text_module",
    "pretrain_imdb_vectors",
    "pretrain_text_embedding",
    "read_word_vectors",
    "resolve_text_handle",
    "tokenize",
]

BUILTIN_PREFIX = "search:imdb-unsup-"
DEFAULT_TEXT_HANDLE = "search:imdb-unsup-50dim"
_BUILTIN = re.compile(r"^search:imdb-unsup-(\d+)dim$")
# Bump when the pretraining recipe changes, so old cache entries are not reused.
_FORMAT = 1
_PUNCTUATION = r"\pP"


@dataclasses.dataclass(frozen=True)
class TextModule:
    """What a loaded text-embedding module holds.

    Attributes:
        handle: The handle as the user wrote it.
        path: The resolved local SavedModel folder.
        output_dim: Size of one sentence embedding.
        tokens: The vocabulary (``assets/tokens.txt``), or ``None`` if the module
            does not have the standard structure.
        embeddings: The ``embeddings`` matrix (vocabulary rows, then OOV rows), or ``None``.
    """

    handle: str
    path: Path
    output_dim: int
    tokens: tuple[str, ...] | None
    embeddings: np.ndarray | None

    @property
    def native(self) -> bool:
        """Whether the module has the standard structure that :class:`search.models.HubTextEmbedding` reproduces."""
        return self.tokens is not None and self.embeddings is not None

    @property
    def num_oov_buckets(self) -> int:
        if self.tokens is None or self.embeddings is None:
            return 0
        return int(self.embeddings.shape[0]) - len(self.tokens)


def tokenize(texts: Any) -> Any:
    """The modules' tokenization: strip punctuation (``\\pP``), split on single spaces.

    Consecutive spaces give empty tokens, and an empty sentence gets one empty
    token, exactly as in the TF-Hub modules (both map to an OOV bucket).

    Args:
        texts: A 1-D string tensor or a sequence of strings.

    Returns:
        A ``tf.SparseTensor`` of tokens, one row per sentence.

    Examples:
        >>> tokenize(["Great, great film!"]).values.numpy().tolist()
        [b'Great', b'great', b'film']
    """
    import tensorflow as tf

    sentences = tf.reshape(tf.strings.regex_replace(texts, _PUNCTUATION, ""), [-1])
    tokens = tf.strings.split(sentences, " ").to_sparse()
    tokens, _ = tf.sparse.fill_empty_rows(tokens, tf.constant(""))
    return tf.sparse.reset_shape(tokens)


def _clean_vocabulary(tokens: Sequence[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    if len(tokens) != len(vectors):
        raise InputError(f"{len(tokens)} tokens but {len(vectors)} vectors")
    keep, seen = [], set()
    for i, token in enumerate(tokens):
        # tokens.txt holds one token a line, and the modules split on spaces:
        # such tokens could never be looked up.
        if not token or any(c.isspace() for c in token) or token in seen:
            continue
        seen.add(token)
        keep.append(i)
    if not keep:
        raise InputError("no usable token (empty, whitespace or duplicate tokens are skipped)")
    return [tokens[i] for i in keep], np.asarray(vectors, dtype=np.float32)[keep]


def export_text_embedding(
    tokens: Sequence[str] | str | os.PathLike[str],
    vectors: np.ndarray | None,
    out: str | Path,
    *,
    num_oov_buckets: int = 1000,
    oov_vectors: np.ndarray | None = None,
) -> Path:
    """Write a TF-Hub TF2 text-embedding SavedModel from word vectors.

    The module has the structure of TF-Hub's ``gnews-swivel``/``nnlm`` modules:
    an ``embeddings`` variable (``len(tokens) + num_oov_buckets`` rows; OOV rows
    are zeros unless ``oov_vectors`` is given), ``assets/tokens.txt``, and a
    ``__call__`` taking a 1-D string tensor and returning ``[batch, dim]``.
    Tokens that are empty, hold whitespace or repeat an earlier token are skipped.

    Args:
        tokens: The vocabulary, one token per row of ``vectors``; or the path of a
            word-vector file in the text format of word2vec/GloVe (``word v1 v2 ...``
            per line, see :func:`read_word_vectors`), which holds both: ``vectors``
            is then ``None``.
        vectors: ``(len(tokens), dim)`` word vectors.
        out: The folder to create (must not exist or be empty).
        num_oov_buckets: Rows for out-of-vocabulary tokens (at least 1).
        oov_vectors: Optional ``(num_oov_buckets, dim)`` initial OOV rows.

    Returns:
        ``out`` as a ``Path``; ``hub.load(out)`` loads it.

    Raises:
        InputError: Inconsistent shapes, no usable token, an unreadable word-vector
            file, or ``out`` not empty.

    Examples:
        >>> import tempfile
        >>> out = export_text_embedding(["good", "bad"], np.eye(2), Path(tempfile.mkdtemp()) / "m", num_oov_buckets=1)
        >>> out.name, (out / "assets" / "tokens.txt").read_text().split()
        ('m', ['good', 'bad'])
        >>> embed = import_hub().load(str(out))
        >>> np.allclose(embed(["good film"]), [[2**-0.5, 0.0]])  # "film" is out of vocabulary: a zero row
        True

        From a word-vector file such as GloVe's ``glove.6B.50d.txt``:

        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "vectors.txt").write_text("good 1 0\\nbad 0 1\\n")
        >>> out = export_text_embedding(folder / "vectors.txt", None, folder / "m", num_oov_buckets=1)
        >>> (out / "assets" / "tokens.txt").read_text().split()
        ['good', 'bad']
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"output folder {out} exists and is not empty")
    if isinstance(tokens, str | os.PathLike):
        if vectors is not None:
            raise InputError("give word vectors either as a file or as tokens and vectors, not both")
        tokens, vectors = read_word_vectors(tokens)
    elif vectors is None:
        raise InputError("tokens without their vectors: give vectors, one row per token")
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] < 1:
        raise InputError(f"word vectors must be a (tokens, dim) matrix, got shape {vectors.shape}")
    if num_oov_buckets < 1:
        raise InputError(f"num_oov_buckets must be at least 1, got {num_oov_buckets}")
    words, matrix = _clean_vocabulary(list(tokens), vectors)
    dim = matrix.shape[1]
    oov = np.zeros((num_oov_buckets, dim), np.float32) if oov_vectors is None else np.asarray(oov_vectors, np.float32)
    if oov.shape != (num_oov_buckets, dim):
        raise InputError(f"oov_vectors must have shape {(num_oov_buckets, dim)}, got {oov.shape}")
    full = np.concatenate([matrix, oov]).astype(np.float32)
    import_hub()
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as scratch:
        vocab_file = Path(scratch) / "tokens.txt"
        vocab_file.write_text("".join(f"{w}\n" for w in words), encoding="utf-8")

        class TextEmbeddingModule(tf.Module):
            def __init__(self) -> None:
                super().__init__()
                self._vocabulary_file = tf.saved_model.Asset(str(vocab_file))
                self._table = tf.lookup.StaticVocabularyTable(
                    tf.lookup.TextFileInitializer(
                        self._vocabulary_file,
                        tf.string,
                        tf.lookup.TextFileIndex.WHOLE_LINE,
                        tf.int64,
                        tf.lookup.TextFileIndex.LINE_NUMBER,
                    ),
                    num_oov_buckets,
                )
                self.embeddings = tf.Variable(full, name="embeddings")

            @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
            def __call__(self, sentences: Any) -> Any:
                tokens = tokenize(sentences)
                ids = tf.sparse.SparseTensor(tokens.indices, self._table.lookup(tokens.values), tokens.dense_shape)
                return tf.nn.safe_embedding_lookup_sparse(self.embeddings, ids, None, combiner="sqrtn")

        module = TextEmbeddingModule()
        out.parent.mkdir(parents=True, exist_ok=True)
        tf.saved_model.save(module, str(out))
    return out


def read_word_vectors(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read word vectors in the text format of word2vec/GloVe: ``word v1 v2 ...`` per line.

    A first line of two integers (word2vec's ``count dim`` header) is skipped.

    Raises:
        InputError: Unreadable file, or lines with different numbers of values.

    Examples:
        A file such as GloVe's ``glove.6B.50d.txt``, here a tiny one with a word2vec header:

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "vectors.txt"
        >>> _ = path.write_text("2 3\\ngood 0.1 0.2 0.3\\nbad -0.1 0.0 0.2\\n")
        >>> tokens, vectors = read_word_vectors(path)
        >>> tokens, vectors.shape
        (['good', 'bad'], (2, 3))
    """
    path = Path(path)
    tokens: list[str] = []
    rows: list[list[float]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                parts = line.rstrip("\n").split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue
                if len(parts) < 2:
                    continue
                try:
                    row = [float(v) for v in parts[1:] if v]
                except ValueError:
                    raise InputError(f"{path}:{number}: not 'word v1 v2 ...'") from None
                if rows and len(row) != len(rows[0]):
                    raise InputError(f"{path}:{number}: {len(row)} values, expected {len(rows[0])}")
                tokens.append(parts[0])
                rows.append(row)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read word vectors {path}: {exc}") from None
    if not rows:
        raise InputError(f"no word vectors in {path}")
    return tokens, np.asarray(rows, dtype=np.float32)


def pretrain_imdb_vectors(
    texts: Sequence[str], *, dim: int = 50, vocab_size: int = 20000, window: int = 5, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """Swivel-style word vectors: truncated SVD of the positive-PMI co-occurrence matrix.

    Texts are tokenized as the modules tokenize them (:func:`tokenize`), the
    ``vocab_size`` most frequent tokens form the vocabulary, co-occurrences within
    ``window`` tokens on either side are counted with weight ``1/distance``
    (``scipy.sparse``), PMI uses context-distribution smoothing (0.75), and the
    vectors are ``U * sqrt(S)`` of a randomized truncated SVD (scikit-learn),
    scaled to unit length.

    Args:
        texts: Raw texts, e.g. the unlabeled IMDB reviews.
        dim: Vector size.
        vocab_size: Vocabulary size (fewer if the texts have fewer distinct tokens).
        window: Co-occurrence window on each side.
        seed: Seed of the randomized SVD.

    Returns:
        ``(tokens, vectors)`` with tokens by decreasing frequency.

    Examples:
        >>> tokens, vectors = pretrain_imdb_vectors(["a good film", "a bad film"], dim=2)
        >>> tokens, vectors.shape
        (['a', 'film', 'bad', 'good'], (4, 2))
    """
    import scipy.sparse as sp
    import tensorflow as tf
    from sklearn.utils.extmath import randomized_svd

    if dim < 1 or vocab_size < 2 or window < 1:
        raise InputError(f"dim, window must be >= 1 and vocab_size >= 2, got {dim}, {window}, {vocab_size}")
    ragged = tf.strings.split(tf.strings.regex_replace(tf.constant(list(texts)), _PUNCTUATION, ""), " ")
    flat = ragged.flat_values
    unique, _, counts = tf.unique_with_counts(flat)
    words = unique.numpy()
    freq = counts.numpy()
    usable = words != b""
    words, freq = words[usable], freq[usable]
    order = np.lexsort((words, -freq))[:vocab_size]  # by count, then token: deterministic
    vocab = words[order]
    if len(vocab) <= dim:
        raise InputError(f"only {len(vocab)} distinct tokens, need more than dim={dim}")
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), tf.range(len(vocab), dtype=tf.int64)), -1
    )
    ids = table.lookup(flat).numpy().astype(np.int64)
    doc = np.repeat(np.arange(len(texts)), np.diff(ragged.row_splits.numpy()))
    n = len(vocab)
    counts_matrix = sp.csr_matrix((n, n), dtype=np.float64)
    for distance in range(1, window + 1):
        left, right = ids[:-distance], ids[distance:]
        keep = (doc[:-distance] == doc[distance:]) & (left >= 0) & (right >= 0)
        weights = np.full(int(keep.sum()), 1.0 / distance)
        counts_matrix = counts_matrix + sp.csr_matrix((weights, (left[keep], right[keep])), shape=(n, n))
    cooc = (counts_matrix + counts_matrix.T).tocoo()
    total = cooc.sum()
    if total <= 0:
        raise InputError("no co-occurring tokens in the pretraining texts")
    rows = np.asarray(cooc.sum(axis=1)).ravel()
    context = np.asarray(cooc.sum(axis=0)).ravel() ** 0.75
    context /= context.sum()
    pmi = np.log(cooc.data / total) - np.log(rows[cooc.row] / total) - np.log(context[cooc.col])
    positive = pmi > 0
    ppmi = sp.csr_matrix((pmi[positive], (cooc.row[positive], cooc.col[positive])), shape=(n, n))
    u, s, _ = randomized_svd(ppmi, n_components=dim, n_iter=5, random_state=seed)
    vectors = u * np.sqrt(s)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1.0)
    return [w.decode("utf-8") for w in vocab], vectors.astype(np.float32)


def pretrain_text_embedding(
    out: str | Path | None = None,
    *,
    dim: int = 50,
    vocab_size: int = 20000,
    window: int = 5,
    num_oov_buckets: int = 1000,
    limit: int | None = None,
) -> Path:
    """Pretrain word vectors on the unlabeled IMDB reviews and export them as a TF-Hub module.

    Without ``out``, the module goes to the cache folder, keyed by its settings
    and the archive, and an existing entry is reused: this is what the handle
    ``search:imdb-unsup-<dim>dim`` resolves to. TensorFlow's start-up log lines
    are hidden (see :func:`import_hub`).

    Args:
        out: Folder to write (must not exist or be empty); default: the cache.
        dim: Embedding size (e.g. 20 or 50).
        vocab_size: Most frequent tokens kept.
        window: Co-occurrence window on each side.
        num_oov_buckets: Out-of-vocabulary rows of the module.
        limit: Use only the first ``limit`` unlabeled reviews (quick runs, tests).

    Returns:
        The module folder.

    Raises:
        InputError: Unavailable data or invalid settings.

    Examples:
        (needs the IMDB data)

        >>> path = pretrain_text_embedding(dim=20)  # doctest: +SKIP
        >>> import_hub().load(str(path))(["a great film"]).shape  # doctest: +SKIP
        TensorShape([1, 20])
    """
    if out is not None and Path(out).exists() and (not Path(out).is_dir() or any(Path(out).iterdir())):
        raise InputError(f"output folder {out} exists and is not empty")  # before a minute of pretraining
    archive = find_imdb()
    entry: Path | None = None
    if out is None:
        stat = archive.stat()
        settings = {
            "format": _FORMAT,
            "dim": dim,
            "vocab_size": vocab_size,
            "window": window,
            "num_oov_buckets": num_oov_buckets,
            "limit": limit,
            "archive": [str(archive.resolve()), stat.st_size, int(stat.st_mtime)],
        }
        entry = cache_dir() / "embeddings" / f"imdb-unsup-{dim}dim-{settings_key(settings)}"
        if (entry / "saved_model.pb").is_file():
            return entry
    import_hub()  # TensorFlow (which tokenizes) started with its start-up lines hidden
    texts = read_imdb(archive, splits=("unsup",))["unsup"].texts
    if limit is not None:
        texts = texts[:limit]
    tokens, vectors = pretrain_imdb_vectors(texts, dim=dim, vocab_size=vocab_size, window=window)
    if entry is None:
        return export_text_embedding(tokens, vectors, Path(str(out)), num_oov_buckets=num_oov_buckets)
    entry.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".tmp-"))
    try:
        export_text_embedding(tokens, vectors, scratch / "module", num_oov_buckets=num_oov_buckets)
        (scratch / "module" / "settings.json").write_text(json.dumps(settings))
        with contextlib.suppress(OSError):  # another process wrote it first
            os.replace(scratch / "module", entry)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return entry


def resolve_text_handle(handle: str) -> Path:
    """The local SavedModel folder of a handle, downloading or building it if needed.

    Handles: ``search:imdb-unsup-<dim>dim`` (pretrained offline by
    :func:`pretrain_text_embedding`, cached), a TF-Hub URL (``hub.resolve``,
    cached by TF-Hub) or a local SavedModel folder.

    Raises:
        InputError: One line naming the handle if it cannot be resolved or is
            not a SavedModel.

    Examples:
        (the built-in handle needs the IMDB data)

        >>> resolve_text_handle("search:imdb-unsup-20dim").name.startswith("imdb-unsup-20dim")  # doctest: +SKIP
        True
        >>> resolve_text_handle("search:imdb-unsup-fiftydim")
        Traceback (most recent call last):
        ...
        search.errors.InputError: unknown built-in embedding handle 'search:imdb-unsup-fiftydim' (e.g. ...)
    """
    match = _BUILTIN.match(handle)
    if match:
        return pretrain_text_embedding(dim=int(match.group(1)))
    if handle.startswith(BUILTIN_PREFIX) or handle.startswith("search:"):
        raise InputError(f"unknown built-in embedding handle {handle!r} (e.g. {DEFAULT_TEXT_HANDLE!r})")
    if "://" not in handle:
        path = Path(handle).expanduser()
        if not path.exists():
            raise InputError(f"embedding handle {handle!r}: no such folder")
    else:
        try:
            path = Path(import_hub().resolve(handle))
        except Exception as exc:  # network, HTTP and archive errors come in many types
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise InputError(f"cannot resolve embedding handle {handle!r}: {reason}") from None
    if not (path / "saved_model.pb").is_file() and not (path / "saved_model.pbtxt").is_file():
        raise InputError(f"embedding handle {handle!r} is not a SavedModel (no saved_model.pb in {path})")
    return path


_MODULES: dict[str, TextModule] = {}


def import_hub() -> Any:
    """Import ``tensorflow_hub`` (and TensorFlow) with TensorFlow's start-up log lines hidden.

    TensorFlow 2.21 prints absl INFO lines on import whatever ``TF_CPP_MIN_LOG_LEVEL``
    says; they would break the CLI's one-line errors. Only the C-level stderr of the
    first import is silenced; Python exceptions pass through.
    """
    import sys

    if "tensorflow" in sys.modules:
        import tensorflow_hub

        return tensorflow_hub
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow_hub
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tensorflow_hub


def load_text_module(handle: str) -> TextModule:
    """Resolve and load a text-embedding module once per process; read its structure.

    Raises:
        InputError: The handle cannot be resolved or loaded (one line naming it).

    Examples:
        A module written by :func:`export_text_embedding`:

        >>> import tempfile
        >>> path = export_text_embedding(["good", "bad"], np.eye(2), Path(tempfile.mkdtemp()) / "m", num_oov_buckets=1)
        >>> module = load_text_module(str(path))
        >>> module.output_dim, module.tokens, module.num_oov_buckets, module.native
        (2, ('good', 'bad'), 1, True)

        The built-in handles (these need the IMDB data):

        >>> load_text_module("search:imdb-unsup-50dim").output_dim  # doctest: +SKIP
        50
    """
    if handle in _MODULES:
        return _MODULES[handle]
    path = resolve_text_handle(handle)
    hub = import_hub()
    import tensorflow as tf

    try:
        module = hub.load(str(path))
        output = module(tf.constant(["a b"]))
    except Exception as exc:  # a SavedModel that is not a text embedding fails in many ways
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"embedding handle {handle!r} is not a usable text-embedding module: {reason}") from None
    if len(output.shape) != 2:
        raise InputError(f"embedding handle {handle!r} returns shape {tuple(output.shape)}, not [batch, dim]")
    tokens: tuple[str, ...] | None = None
    matrix: np.ndarray | None = None
    variable = getattr(module, "embeddings", None)
    vocab_file = path / "assets" / "tokens.txt"
    if isinstance(variable, tf.Variable) and vocab_file.is_file() and len(variable.shape) == 2:
        words = tuple(vocab_file.read_text(encoding="utf-8").split("\n"))
        if words and words[-1] == "":
            words = words[:-1]
        candidate = variable.numpy().astype(np.float32)
        if candidate.shape[0] > len(words) and candidate.shape[1] == output.shape[1]:
            tokens, matrix = words, candidate
    info = TextModule(handle=handle, path=path, output_dim=int(output.shape[1]), tokens=tokens, embeddings=matrix)
    _MODULES[handle] = info
    return info
