"""A Keras 3 layer for TF-Hub text-embedding modules, with a trainable embedding matrix.

``tensorflow_hub.KerasLayer`` only works with legacy Keras 2. This layer loads
the module once, copies its vocabulary and ``embeddings`` matrix, and reproduces
its computation with TensorFlow ops, so the matrix is an ordinary Keras weight:
``trainable`` really trains it, and the model saves as ``.keras`` and reloads
without the module. It runs on the TensorFlow backend only (string ops).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from search.errors import InputError
from search.models._embeddings import load_text_module, tokenize

__all__ = ["HubTextEmbedding"]

_TOKENS_FILE = "tokens.txt"


@keras.saving.register_keras_serializable(package="search")
class HubTextEmbedding(keras.layers.Layer):
    """Sentence embeddings of a TF-Hub text-embedding module, as a native Keras 3 layer.

    For modules of the standard TF2 structure (TF-Hub's ``gnews-swivel``,
    ``nnlm``, and the modules of :func:`search.models.export_text_embedding`: an
    ``embeddings`` variable with OOV-bucket rows last and ``assets/tokens.txt``),
    the layer holds the vocabulary (saved as an asset) and the matrix (a weight),
    and computes what the module computes: strip ``\\pP`` punctuation, split on
    spaces, look tokens up (unknown ones in ``to_hash_bucket_fast`` buckets) and
    combine rows with ``safe_embedding_lookup_sparse(combiner="sqrtn")``.

    Other modules are wrapped frozen (called as they are); ``trainable=True``
    is refused for them, and a saved model needs the module to reload.

    Uses TensorFlow string ops: the TensorFlow backend only.

    Args:
        handle: A TF-Hub URL, a local SavedModel folder, or ``search:imdb-unsup-<dim>dim``.
        trainable: Whether training updates the embedding matrix.

    Raises:
        search.InputError: The handle cannot be loaded, or ``trainable=True``
            for a module without the standard structure.

    Examples:
        A module written by :func:`search.models.export_text_embedding` (the
        built-in ``search:imdb-unsup-50dim`` is used the same way, and needs the IMDB data):

        >>> import tempfile
        >>> import numpy as np
        >>> from search.models import export_text_embedding
        >>> path = export_text_embedding(["good", "bad"], np.eye(2), Path(tempfile.mkdtemp()) / "m", num_oov_buckets=1)
        >>> inputs = keras.Input(shape=(), dtype="string")
        >>> vectors = HubTextEmbedding(str(path), trainable=True)(inputs)
        >>> vectors.shape
        (None, 2)
    """

    def __init__(
        self,
        handle: str,
        *,
        trainable: bool = False,
        output_dim: int | None = None,
        vocabulary_size: int | None = None,
        num_oov_buckets: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, **kwargs)
        self.handle = str(handle)
        self._tokens: tuple[str, ...] | None = None
        self._table: Any = None
        self._module: Any = None
        if output_dim is not None and vocabulary_size is not None and num_oov_buckets is not None:
            # From a saved config: the weights and the vocabulary asset are loaded by Keras.
            self.native = True
            self.output_dim = int(output_dim)
            self.vocabulary_size = int(vocabulary_size)
            self.num_oov_buckets = int(num_oov_buckets)
            self._add_embeddings()
            return
        info = load_text_module(self.handle)
        self.native = info.native
        self.output_dim = info.output_dim
        if info.tokens is None or info.embeddings is None:
            if trainable:
                raise InputError(
                    f"embedding handle {self.handle!r} has no 'embeddings' variable with assets/tokens.txt: "
                    "it can only be used frozen (trainable = false)"
                )
            self.vocabulary_size = 0
            self.num_oov_buckets = 0
            self._module = _load_frozen(info.path)
            self.built = True
            return
        self.vocabulary_size = len(info.tokens)
        self.num_oov_buckets = info.num_oov_buckets
        self._add_embeddings()
        self.embeddings.assign(info.embeddings)
        self._set_vocabulary(info.tokens)

    def _add_embeddings(self) -> None:
        self.embeddings = self.add_weight(
            shape=(self.vocabulary_size + self.num_oov_buckets, self.output_dim),
            initializer="zeros",
            dtype="float32",
            trainable=True,
            name="embeddings",
        )
        self.built = True

    def _set_vocabulary(self, tokens: tuple[str, ...]) -> None:
        import tensorflow as tf

        if len(tokens) != self.vocabulary_size:
            raise InputError(f"vocabulary of {len(tokens)} tokens, expected {self.vocabulary_size}")
        self._tokens = tuple(tokens)
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(tokens), tf.string), tf.range(len(tokens), dtype=tf.int64)
            ),
            default_value=-1,
        )

    @property
    def vocabulary(self) -> tuple[str, ...] | None:
        """The module's tokens, in row order (``None`` for a frozen wrapper)."""
        return self._tokens

    def call(self, inputs: Any) -> Any:
        import tensorflow as tf

        if self._module is not None:
            return self._module(tf.reshape(inputs, [-1]))
        if self._table is None:
            raise InputError(f"HubTextEmbedding({self.handle!r}) has no vocabulary (load it with its assets)")
        tokens = tokenize(inputs)
        ids = self._table.lookup(tokens.values)
        buckets = tf.strings.to_hash_bucket_fast(tokens.values, self.num_oov_buckets) + self.vocabulary_size
        ids = tf.where(ids < 0, buckets, ids)
        sparse_ids = tf.sparse.SparseTensor(tokens.indices, ids, tokens.dense_shape)
        return tf.nn.safe_embedding_lookup_sparse(
            tf.convert_to_tensor(self.embeddings), sparse_ids, None, combiner="sqrtn"
        )

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0] if input_shape else None, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["handle"] = self.handle
        if self.native:
            config.update(
                output_dim=self.output_dim,
                vocabulary_size=self.vocabulary_size,
                num_oov_buckets=self.num_oov_buckets,
            )
        return config

    def save_assets(self, dir_path: str) -> None:
        if self._tokens is not None:
            Path(dir_path, _TOKENS_FILE).write_text("".join(f"{t}\n" for t in self._tokens), encoding="utf-8")

    def load_assets(self, dir_path: str) -> None:
        path = Path(dir_path, _TOKENS_FILE)
        if self.native and path.is_file():
            words = path.read_text(encoding="utf-8").split("\n")
            self._set_vocabulary(tuple(words[:-1] if words and words[-1] == "" else words))


def _load_frozen(path: Path) -> Any:
    import tensorflow_hub as hub

    return hub.load(str(path))
