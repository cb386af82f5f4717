"""The Keras 3 HubTextEmbedding layer: same output as the module, trainability, .keras round trip."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from search import SearchError
from search.models import HubTextEmbedding, export_text_embedding
from search.models._embeddings import pretrain_imdb_vectors

pytestmark = pytest.mark.backend("tensorflow")  # TF-Hub modules run on TensorFlow only

EDGE_CASES = ["", "   ", "good", "The GOOD, the bad & the awful!!", "unknown  words\there", "a<br /><br />b"]


def _model(handle: str, *, trainable: bool) -> keras.Model:
    inputs = keras.Input(shape=(), dtype="string")
    outputs = keras.layers.Dense(1, activation="sigmoid")(HubTextEmbedding(handle, trainable=trainable)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    return model


def test_layer_equals_the_module_on_edge_cases(tiny_text_module: Path) -> None:
    texts = tf.constant(EDGE_CASES + ["zzz qqq good"] * 3)
    expected = hub.load(str(tiny_text_module))(texts).numpy()
    np.testing.assert_allclose(HubTextEmbedding(str(tiny_text_module))(texts).numpy(), expected, atol=1e-6)
    assert np.abs(expected).sum() > 0 and not np.allclose(expected[0], 0)  # the empty token hits an OOV row


def test_layer_equals_the_module_on_real_reviews(imdb_reviews: dict, tmp_path: Path) -> None:
    tokens, vectors = pretrain_imdb_vectors(imdb_reviews["unsup"].texts[:300], dim=16, vocab_size=2000)
    rng = np.random.default_rng(1)
    path = export_text_embedding(
        tokens, vectors, tmp_path / "m", num_oov_buckets=50, oov_vectors=rng.normal(size=(50, 16))
    )
    reviews = imdb_reviews["train"].texts[::100]  # 250 labelled reviews, both classes
    assert len(reviews) == 250
    expected = hub.load(str(path))(tf.constant(reviews)).numpy()
    layer = HubTextEmbedding(str(path))
    assert layer.vocabulary_size == 2000 and layer.num_oov_buckets == 50
    np.testing.assert_allclose(layer(tf.constant(reviews)).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("trainable", [False, True])
def test_training_and_keras_round_trip(tiny_text_module: Path, tmp_path: Path, trainable: bool) -> None:
    keras.utils.set_random_seed(0)
    model = _model(str(tiny_text_module), trainable=trainable)
    layer = model.layers[1]
    assert isinstance(layer, HubTextEmbedding)
    assert len(model.trainable_weights) == (3 if trainable else 2)
    before = layer.embeddings.numpy().copy()
    x = np.array(["good film", "great acting", "bad plot", "awful movie", "zzz good", "qqq bad"] * 4, dtype=object)
    y = np.array([1, 1, 0, 0, 1, 0] * 4, dtype=np.float32)
    model.fit(x, y, batch_size=6, epochs=3, verbose=0)
    after = layer.embeddings.numpy()
    if trainable:
        assert not np.array_equal(before, after)
        assert not np.array_equal(before[-5:], after[-5:])  # OOV rows train too
    else:
        assert np.array_equal(before, after)  # bit-identical

    path = tmp_path / "model.keras"
    model.save(path)
    moved = tiny_text_module.parent / "moved"
    tiny_text_module.rename(moved)  # the saved model must not need the module
    try:
        reloaded = keras.saving.load_model(path)
    finally:
        moved.rename(tiny_text_module)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    reloaded_layer = reloaded.layers[1]
    assert reloaded_layer.trainable is trainable
    assert reloaded_layer.vocabulary == layer.vocabulary
    np.testing.assert_array_equal(reloaded_layer.embeddings.numpy(), after)


def test_frozen_wrapper_for_other_modules(tmp_path: Path) -> None:
    class Other(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, sentences: tf.Tensor) -> tf.Tensor:
            lengths = tf.cast(tf.strings.length(sentences), tf.float32)
            return tf.stack([lengths, 2 * lengths, lengths], axis=1)

    tf.saved_model.save(Other(), str(tmp_path / "other"))
    layer = HubTextEmbedding(str(tmp_path / "other"))
    assert not layer.native and layer.output_dim == 3 and layer.weights == []
    np.testing.assert_array_equal(layer(tf.constant(["ab", "abcd"])).numpy(), [[2, 4, 2], [4, 8, 4]])
    with pytest.raises(SearchError, match=r"can only be used frozen \(trainable = false\)"):
        HubTextEmbedding(str(tmp_path / "other"), trainable=True)


def test_missing_handle_is_a_search_error() -> None:
    with pytest.raises(SearchError, match="'/no/such/module': no such folder"):
        HubTextEmbedding("/no/such/module")
