"""The training helpers: padded sparse sizes, evaluation batch sizes, input dropout, backends."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from search import SearchError
from search.engine._config import load_study_config
from search.models._training import eval_batch_size, padded_size, use_backend


def test_padded_sizes_are_few_and_at_most_a_fifth_larger() -> None:
    sizes = [padded_size(n) for n in range(1, 200_000)]
    assert all(s >= n for n, s in zip(range(1, 200_000), sizes, strict=True))
    assert max(s / n for n, s in zip(range(257, 200_000), sizes[256:], strict=True)) < 1.2
    assert len(set(sizes)) <= 4 * 18


def test_eval_batch_size_divides_the_rows_when_it_can() -> None:
    assert eval_batch_size(10000, 128) == 2500
    assert 25000 % eval_batch_size(25000, 1024) == 0
    assert eval_batch_size(101, 32) == 101  # one batch: the whole set
    assert eval_batch_size(10007, 64) == 1024  # a prime above the largest size: few steps all the same


def test_input_dropout_keeps_the_expected_input_and_drops_at_the_rounded_rate() -> None:
    from search.models import InputDropout

    x = (np.random.default_rng(0).random((400, 2000)) < 0.5).astype(np.float32)
    layer = InputDropout(0.3, seed=1)
    assert layer.keep_probability == 179 / 256
    out = np.asarray(layer(x, training=True))
    kept = (out > 0).sum() / (x > 0).sum()
    assert abs(kept - 179 / 256) < 0.005
    assert np.allclose(out[out > 0], 256 / 179)
    assert abs(out.sum() / x.sum() - 1.0) < 0.01  # expectation unchanged, as dropout keeps it
    assert not np.array_equal(out, np.asarray(layer(x, training=True)))  # a new mask every call
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # inference: the identity


@pytest.mark.backend("tensorflow")  # TensorFlow's SparseTensor (the JAX sparse path: test_jax.py)
def test_input_dropout_keeps_sparse_inputs_sparse() -> None:
    import keras
    import tensorflow as tf

    from search.models import InputDropout

    inputs = keras.Input(shape=(50,), sparse=True)
    assert InputDropout(0.5)(inputs).sparse
    coo = sp.random(20, 50, density=0.2, format="coo", dtype=np.float32, random_state=0)
    x = tf.sparse.reorder(tf.SparseTensor(np.stack([coo.row, coo.col], 1).astype(np.int64), coo.data, coo.shape))
    out = InputDropout(0.5, seed=2)(x, training=True)
    assert isinstance(out, tf.SparseTensor)
    values = out.values.numpy()
    assert 0 < (values != 0).sum() < coo.nnz  # some of the stored values dropped, none added
    np.testing.assert_allclose(values[values != 0], 2 * x.values.numpy()[values != 0])


def test_a_study_backend_must_be_known() -> None:
    with pytest.raises(SearchError, match="'backend' must be one of"):
        load_study_config("synthetic", backend="torch")
    assert load_study_config("imdb-bow").backend == "jax"


def test_use_backend_reports_a_loaded_keras_on_another_backend() -> None:
    import keras

    loaded = keras.backend.backend()
    other = "jax" if loaded == "tensorflow" else "tensorflow"
    assert use_backend(loaded) and use_backend("")
    assert not use_backend(other)  # Keras reads KERAS_BACKEND once: another process is needed


def test_models_saved_with_the_earlier_sparse_dropout_name_still_load(tmp_path: Path) -> None:
    import keras

    from search.models._layers import SparseDropout

    inputs = keras.Input(shape=(10,))
    model = keras.Model(inputs, keras.layers.Dense(1)(SparseDropout(0.5)(inputs)))
    model.save(tmp_path / "old.keras")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    assert [type(layer).__name__ for layer in loaded.layers][1] == "SparseDropout"
    x = np.ones((3, 10), np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def _squared_error(y_true: object, y_pred: object) -> object:
    import keras

    return keras.ops.mean(keras.ops.square(keras.ops.subtract(y_true, y_pred)))


def test_sparse_models_save_without_forcing_xla_unless_keras_cannot_rebuild_their_compile_config(
    tmp_path: Path,
) -> None:
    import keras

    from search.models import save_model

    def model(loss: object) -> keras.Model:
        built = keras.Sequential([keras.Input((3,), sparse=True), keras.layers.Dense(1)])
        built.compile(optimizer="adam", loss=loss, jit_compile=True)
        built.optimizer.build(built.trainable_variables)
        return built

    x, y = sp.csr_matrix(np.eye(3, dtype=np.float32)), np.ones((3, 1), np.float32)
    known = model("mse")
    known.fit(x.toarray(), y, verbose=0)  # an optimizer with state, which the file keeps
    save_model(known, tmp_path / "known.keras")
    loaded = keras.saving.load_model(tmp_path / "known.keras")
    assert loaded.get_compile_config()["jit_compile"] is False and known.jit_compile is True
    assert int(loaded.optimizer.iterations) == int(known.optimizer.iterations) == 1
    # A loss Keras cannot find by name (not registered): saved as it is, not refused.
    custom = model(_squared_error)
    save_model(custom, tmp_path / "custom.keras")
    reloaded = keras.saving.load_model(tmp_path / "custom.keras", custom_objects={"_squared_error": _squared_error})
    assert reloaded.get_compile_config()["jit_compile"] is True


def test_a_regression_output_starts_at_its_training_targets_level_and_reloads(tmp_path: Path) -> None:
    import keras

    from search import Task
    from search.models import load_model, output_layer
    from search.models._layers import ScaledDense

    targets = np.random.default_rng(0).normal(23.0, 7.8, size=300)
    task = Task("regression").fitted(targets)
    assert task.target_mean == pytest.approx(targets.mean()) and task.target_scale == pytest.approx(targets.std())
    assert Task("regression").fitted([5.0, 5.0]).target_scale == 1.0  # constant targets: no scale to take
    assert Task("multiclass", 3).fitted(targets) == Task("multiclass", 3)
    with pytest.raises(SearchError, match="target_scale finite and positive"):
        Task("regression", target_scale=0.0)

    inputs = keras.Input(shape=(6,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, output_layer(task)(hidden))
    assert isinstance(model.layers[-1], ScaledDense)
    assert isinstance(output_layer(Task("regression")), keras.layers.Dense)  # no targets seen: a plain Dense
    x = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    untrained = np.asarray(model(x)).reshape(-1)
    # An untrained plain Dense predicts around 0, three target scales off; this one around the targets.
    assert abs(untrained.mean() - targets.mean()) < targets.std()
    model.save(tmp_path / "regression.keras")
    reloaded = load_model(tmp_path / "regression.keras")
    np.testing.assert_allclose(np.asarray(reloaded(x)).reshape(-1), untrained, rtol=1e-6)


def test_a_program_is_shared_only_by_models_that_compute_the_same() -> None:
    import keras

    from search.models._epochs import program_key

    def model(*, units=4, activation="relu", sparse=False, dtype="float32", optimizer=None, loss="mse", metrics=()):
        inputs = keras.Input((3,), sparse=sparse, dtype=dtype)
        m = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(units, activation=activation)(inputs)))
        m.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=loss, metrics=list(metrics))
        return m

    key = program_key(model())
    assert key is not None
    assert program_key(model(optimizer=keras.optimizers.Adam(3e-2))) == key  # the learning rate is a variable
    schedule = keras.optimizers.schedules.ExponentialDecay
    assert program_key(model(optimizer=keras.optimizers.Adam(schedule(1e-2, 10, 0.9)))) != program_key(
        model(optimizer=keras.optimizers.Adam(schedule(1e-2, 100, 0.9)))
    )
    others = [
        model(units=5),
        model(activation="tanh"),
        model(sparse=True),
        model(dtype="float16"),
        model(optimizer=keras.optimizers.Nadam(1e-3)),  # the same configuration keys as Adam
        model(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.8)),
        model(loss="mae"),
        model(metrics=["mae"]),
    ]
    keys = [program_key(m) for m in others]
    assert None not in keys and len({key, *keys}) == len(others) + 1

    def own_loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.abs(y_true - y_pred))

    inputs = keras.Input((3,))
    with_lambda = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    with_lambda.compile(optimizer="adam", loss="mse")

    class Mine(keras.Model):
        pass

    subclassed = Mine(inputs, keras.layers.Dense(1)(inputs))
    subclassed.compile(optimizer="adam", loss="mse")

    def scaled(factor):
        return lambda x: x * factor

    def with_activation(activation):
        inputs = keras.Input((3,))
        m = keras.Model(inputs, keras.layers.Dense(1, activation=activation)(inputs))
        m.compile(optimizer="adam", loss="mse")
        return m

    sequential = [keras.Sequential([keras.Input((3,), dtype=t), keras.layers.Dense(1)]) for t in ("float32", "float16")]
    for m in sequential:
        m.compile(optimizer="adam", loss="mse")
    assert program_key(sequential[0]) != program_key(sequential[1])
    # Whatever a configuration may not show gets programs of its own, and describing it never fails.
    assert program_key(model(loss=own_loss)) is None
    assert program_key(with_lambda) is None and program_key(subclassed) is None
    assert program_key(with_activation(scaled(0.1))) is None
    assert program_key(with_activation(functools.partial(keras.activations.leaky_relu, negative_slope=0.3))) is None


def test_a_sequential_model_with_traced_layers_saves_as_ordinary_keras_layers(tmp_path) -> None:
    import keras

    from search.models import save_model
    from search.models.layers import Dense, Dropout

    model = keras.Sequential([keras.Input((3,)), Dense(4, l2=0.01, traced=True), Dropout(0.3, traced=True)])
    model.compile(optimizer="adam", loss="mse")
    save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert [type(layer).__module__.split(".")[0] for layer in loaded.layers] == ["keras", "keras"]
    assert loaded.layers[0].kernel_regularizer.l2 == pytest.approx(0.01) and loaded.layers[1].rate == 0.3
    x = np.ones((2, 3), "float32")
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
