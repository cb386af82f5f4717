"""Keras layers the spaces need and Keras does not ship."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from typing import Any

import keras

__all__ = ["GlorotUniform", "InputDropout", "ScaledDense", "SparseDropout", "load_model", "save_model"]

# Keep probabilities are drawn in steps of 1/256: one random byte per input feature.
_LEVELS = 256


@keras.saving.register_keras_serializable(package="search")
class InputDropout(keras.layers.Layer):
    """Dropout for wide inputs, dense or sparse, with a cheap random mask.

    Inputs such as a 10,000-word bag of words need a random number per feature
    and example at every step, and drawing them is most of what
    ``keras.layers.Dropout`` costs there: on JAX's CPU backend, the uniform
    floats for a batch of 256 such rows take 23 ms, longer than the layer after
    them. This layer draws one random byte per feature instead (four from each
    32-bit word of the generator: 3.6 ms for the same batch), so the keep
    probability ``1 - rate`` is rounded to a multiple of 1/256 and kept values are
    scaled by its inverse, which keeps the expected input unchanged, as dropout does.

    A sparse input (``tf.SparseTensor`` on TensorFlow, ``BCOO`` on JAX) stays
    sparse: the words a review holds are dropped, not the whole vocabulary.

    Args:
        rate: Fraction of the input values to drop while training.
        seed: Seed of the dropout masks.

    Examples:
        >>> inputs = keras.Input(shape=(10000,), sparse=True)
        >>> InputDropout(0.5)(inputs).sparse
        True
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.keep_levels = min(_LEVELS, max(1, round((1.0 - rate) * _LEVELS)))

    @property
    def keep_probability(self) -> float:
        """The probability that a value is kept (``1 - rate`` rounded to 1/256)."""
        return self.keep_levels / _LEVELS

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training or self.keep_levels == _LEVELS:
            return inputs
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            if isinstance(inputs, tf.SparseTensor):
                return tf.SparseTensor(inputs.indices, self._drop(inputs.values), inputs.dense_shape)
        elif backend == "jax":
            from jax.experimental import sparse as jsparse

            if isinstance(inputs, jsparse.BCOO):
                return jsparse.BCOO((self._drop(inputs.data), inputs.indices), shape=inputs.shape)
        return self._drop(inputs)

    def _drop(self, values: Any) -> Any:
        keep = keras.ops.less(self._random_bytes(values), self.keep_levels)
        scale = keras.ops.cast(_LEVELS / self.keep_levels, values.dtype)
        return keras.ops.where(keep, values * scale, keras.ops.zeros_like(values))

    def _random_bytes(self, values: Any) -> Any:
        """One uniform random byte (as ``int32``) per element of ``values``."""
        seed = self.seed_generator.next()
        backend = keras.backend.backend()
        if backend == "jax":
            import jax
            import jax.numpy as jnp

            n = math.prod(values.shape)
            words = jax.random.bits(seed, ((n + 3) // 4,), jnp.uint32)
            data = jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[:n]
            return data.reshape(values.shape).astype(jnp.int32)
        if backend == "tensorflow":
            import tensorflow as tf

            shape = tf.shape(values)
            n = tf.reduce_prod(shape)
            words = tf.random.stateless_uniform(
                [(n + 3) // 4], seed=tf.cast(seed, tf.int64), minval=None, maxval=None, dtype=tf.uint32
            )
            data = tf.reshape(tf.bitcast(words, tf.uint8), [-1])[:n]
            return tf.cast(tf.reshape(data, shape), tf.int32)
        return keras.random.randint(keras.ops.shape(values), 0, _LEVELS, seed=self.seed_generator)

    def compute_output_spec(self, inputs: Any, training: bool = False) -> Any:
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype, sparse=inputs.sparse)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="search")
class GlorotUniform(keras.initializers.Initializer):
    """Keras' Glorot uniform initializer, drawn by NumPy (seeded by :func:`search.models.set_seed`).

    On JAX, Keras draws initial weights with a compiled random function per weight
    shape: 0.4 to 0.7 s of compilation for each new layer width on one core, as long
    as a whole epoch of a small model on sparse inputs. NumPy draws them at once.

    Examples:
        >>> tuple(GlorotUniform()((3, 2)).shape)
        (3, 2)
    """

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        import numpy as np

        fan_in, fan_out = (shape[0], shape[-1]) if len(shape) > 1 else (shape[0], shape[0])
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        values = np.random.uniform(-limit, limit, size=shape).astype(
            keras.backend.standardize_dtype(dtype or "float32")
        )
        return keras.ops.convert_to_tensor(values)


@keras.saving.register_keras_serializable(package="search")
class ScaledDense(keras.layers.Dense):
    """A ``Dense`` layer whose outputs are multiplied by ``scale`` and shifted by ``offset``.

    A regression's output layer (:func:`search.models.output_layer`): with the
    targets' standard deviation and mean, its units work at the scale of a
    standardized target while the model predicts, and is trained and measured,
    in the targets' own units.

    Args:
        units: Output units.
        scale: What the ``Dense`` outputs are multiplied by.
        offset: What is added to them then.
        **kwargs: ``keras.layers.Dense``'s other arguments.

    Examples:
        >>> layer = ScaledDense(1, scale=10.0, offset=20.0, kernel_initializer="zeros")
        >>> float(layer(keras.ops.ones((1, 3)))[0, 0])
        20.0
    """

    def __init__(self, units: int, *, scale: float = 1.0, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return super().call(inputs, training=training) * self.scale + self.offset

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


@keras.saving.register_keras_serializable(package="search")
class SparseDropout(InputDropout):
    """The earlier name of :class:`InputDropout`, kept so that saved models still load."""


def _sparse_inputs(model: keras.Model) -> bool:
    """Whether any input of ``model`` is sparse."""
    return any(getattr(t, "sparse", False) for t in keras.tree.flatten(model.inputs))


def load_model(path: Any) -> keras.Model:
    """``keras.saving.load_model`` with this module's layers registered (importing it registers them).

    A process that loads a model before building one (a resumed trial, a
    :class:`search.Predictor`) would not know them otherwise. ``safe_mode`` is on:
    a model file from storage is data (see the trust model in the docs).

    A compiled model with sparse inputs runs its steps through XLA where this
    backend can (JAX) and not where it cannot (TensorFlow's XLA has no kernels
    for sparse tensors), whatever the backend that saved it chose.
    """
    model = keras.saving.load_model(path, safe_mode=True)  # never runs code stored in a model file (Lambda layers)
    if model.compiled and _sparse_inputs(model):
        model.jit_compile = keras.backend.backend() == "jax"
    return model


def save_model(model: keras.Model, path: Any, *, as_is: bool = False) -> None:
    """``model.save(path)``, in a file that plain ``keras.saving.load_model`` loads on any backend.

    Keras saves a compiled model with the XLA choice its backend resolved
    (``jit_compile="auto"`` is true on JAX), and a backend that loads it uses it.
    TensorFlow cannot run sparse inputs through XLA, so a model with sparse inputs
    is saved with ``jit_compile=False`` (its optimizer kept): then TensorFlow
    predicts with it, and :func:`load_model` turns XLA back on under JAX. The
    model in memory keeps its own choice. A compile config that Keras cannot
    rebuild in this process (a loss or metric not registered as serializable,
    which plain loading could not rebuild either) is saved as it is. ``as_is``:
    saved as it is, for this backend (a checkpoint in the middle of training,
    which compiling again would disturb).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> model = keras.Sequential([keras.Input((3,), sparse=True), keras.layers.Dense(1)])
        >>> _ = model.compile(loss="mse", jit_compile=True)
        >>> path = Path(tempfile.mkdtemp()) / "sparse.keras"
        >>> save_model(model, path)
        >>> keras.saving.load_model(path).get_compile_config()["jit_compile"], model.jit_compile
        (False, True)
    """
    with _without_tensorflow():
        config = model.get_compile_config()  # {} for a model never compiled
        if as_is or not (config.get("jit_compile") and _sparse_inputs(model)):
            model.save(path)
            return
        try:
            options = keras.saving.deserialize_keras_object(config)
        except (TypeError, ValueError):
            model.save(path)
            return
        chosen = model.jit_compile
        model.compile(**{**options, "optimizer": model.optimizer, "jit_compile": False})
        try:
            model.save(path)
        finally:
            model.jit_compile = chosen


@contextlib.contextmanager
def _without_tensorflow() -> Iterator[None]:
    """On another backend, where TensorFlow is not loaded, Keras' saving finds it absent instead of importing it.

    Keras' serialization asks whether TensorFlow is installed (to save its shapes
    and types) and imports it to answer: seconds and hundreds of MB in a JAX
    worker, and TensorFlow's start-up lines in its output. An entry of ``None`` in
    ``sys.modules`` makes the import fail, for the block only; a process that
    loaded TensorFlow itself keeps it.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
