"""TF-Hub-format modules: export, offline pretraining, handle resolution and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from search import SearchError
from search.models import export_text_embedding, load_text_module, pretrain_text_embedding
from search.models._embeddings import pretrain_imdb_vectors, read_word_vectors, resolve_text_handle, tokenize
from tests.conftest import TINY_VOCAB


def test_exported_module_has_the_tf_hub_structure(tiny_text_module: Path) -> None:
    assert (tiny_text_module / "saved_model.pb").is_file()
    assert (tiny_text_module / "assets" / "tokens.txt").read_text().split("\n")[:-1] == TINY_VOCAB
    module = hub.load(str(tiny_text_module))
    assert module.embeddings.shape == (len(TINY_VOCAB) + 5, 4)
    out = module(tf.constant(["good movie", "", "zzz"]))
    assert out.shape == (3, 4)
    # One known token: its row; sqrtn of two tokens: (a + b) / sqrt(2).
    rows = module.embeddings.numpy()
    np.testing.assert_allclose(module(tf.constant(["good"]))[0], rows[2], rtol=1e-6)
    np.testing.assert_allclose(module(tf.constant(["good, movie!"]))[0], (rows[2] + rows[6]) / np.sqrt(2), rtol=1e-6)


def test_tokenize_strips_punctuation_and_splits_on_single_spaces() -> None:
    tokens = tokenize(tf.constant(["Great, great  film!", ""]))
    assert [t.decode() for t in tokens.values.numpy()] == ["Great", "great", "", "film", ""]
    assert tokens.dense_shape.numpy().tolist() == [2, 4]


def test_export_skips_unusable_tokens_and_checks_shapes(tmp_path: Path) -> None:
    out = export_text_embedding(["ok", "", "two words", "ok", "fine"], np.eye(5, 3), tmp_path / "m", num_oov_buckets=2)
    assert (out / "assets" / "tokens.txt").read_text() == "ok\nfine\n"
    assert load_text_module(str(out)).embeddings.shape == (4, 3)  # type: ignore[union-attr]
    with pytest.raises(SearchError, match="not empty"):
        export_text_embedding(["a"], np.ones((1, 2)), out)
    with pytest.raises(SearchError, match="1 tokens but 2 vectors"):
        export_text_embedding(["a"], np.ones((2, 2)), tmp_path / "n")
    with pytest.raises(SearchError, match="oov_vectors must have shape"):
        export_text_embedding(["a"], np.ones((1, 2)), tmp_path / "o", num_oov_buckets=2, oov_vectors=np.ones((1, 2)))


def test_read_word_vectors_skips_a_word2vec_header(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("2 3\ngood 1 0 0\nbad 0 1 0.5\n")
    tokens, vectors = read_word_vectors(path)
    assert tokens == ["good", "bad"]
    np.testing.assert_array_equal(vectors[1], [0, 1, 0.5])
    path.write_text("good 1 0 0\nbad 0 1\n")
    with pytest.raises(SearchError, match=r"vectors.txt:2: 2 values, expected 3"):
        read_word_vectors(path)


def test_a_word_vector_file_exports_as_its_tokens_and_vectors_do(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    path.write_text("2 3\ngood 1 0 0\nbad 0 1 0.5\n")
    from_file = load_text_module(str(export_text_embedding(path, None, tmp_path / "file", num_oov_buckets=2)))
    tokens, vectors = read_word_vectors(path)
    given = load_text_module(str(export_text_embedding(tokens, vectors, tmp_path / "given", num_oov_buckets=2)))
    assert from_file.tokens == given.tokens == ("good", "bad")
    np.testing.assert_array_equal(from_file.embeddings, given.embeddings)  # type: ignore[arg-type]
    with pytest.raises(SearchError, match="either as a file or as tokens and vectors"):
        export_text_embedding(path, vectors, tmp_path / "both")
    with pytest.raises(SearchError, match="tokens without their vectors"):
        export_text_embedding(tokens, None, tmp_path / "none")
    with pytest.raises(SearchError, match="cannot read word vectors"):
        export_text_embedding(str(tmp_path / "missing.txt"), None, tmp_path / "missing")


def test_pretrained_vectors_on_real_unlabeled_reviews(imdb_reviews: dict) -> None:
    texts = imdb_reviews["unsup"].texts[:300]
    tokens, vectors = pretrain_imdb_vectors(texts, dim=8, vocab_size=500, window=3)
    assert len(tokens) == 500 and vectors.shape == (500, 8)
    assert tokens[0] == "the" and "" not in tokens
    assert not any(c in t for t in tokens for c in ',.!?"()')  # punctuation is stripped as the modules do
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    again_tokens, again = pretrain_imdb_vectors(texts, dim=8, vocab_size=500, window=3)
    assert again_tokens == tokens
    np.testing.assert_allclose(np.abs(again), np.abs(vectors), atol=1e-5)  # deterministic up to SVD signs


def test_pretrained_module_is_cached_by_its_settings(imdb_available: Path) -> None:
    first = pretrain_text_embedding(dim=4, vocab_size=300, window=2, num_oov_buckets=3, limit=200)
    assert hub.load(str(first))(tf.constant(["a fine film"])).shape == (1, 4)
    assert pretrain_text_embedding(dim=4, vocab_size=300, window=2, num_oov_buckets=3, limit=200) == first
    other = pretrain_text_embedding(dim=4, vocab_size=300, window=2, num_oov_buckets=3, limit=150)
    assert other != first and other.parent == first.parent


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("/no/such/module", "embedding handle '/no/such/module': no such folder"),
        ("search:imdb-unsup-xdim", "unknown built-in embedding handle 'search:imdb-unsup-xdim'"),
    ],
)
def test_unresolvable_handles(handle: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        resolve_text_handle(handle)


def test_a_folder_that_is_not_a_saved_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SearchError, match=f"embedding handle '{tmp_path}' is not a SavedModel") as info:
        resolve_text_handle(str(tmp_path))
    assert "\n" not in str(info.value)


def test_a_saved_model_of_another_kind_is_frozen_only(tmp_path: Path) -> None:
    class Other(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
            lengths = tf.cast(tf.strings.length(sentences), tf.float32)
            return tf.stack([lengths, self.scale * lengths], axis=1)

    tf.saved_model.save(Other(), str(tmp_path / "other"))
    info = load_text_module(str(tmp_path / "other"))
    assert not info.native and info.output_dim == 2 and info.tokens is None
