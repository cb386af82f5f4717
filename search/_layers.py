"""Keras layers the spaces need and Keras does not ship."""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["SparseDropout"]


@keras.saving.register_keras_serializable(package="search")
class SparseDropout(keras.layers.Layer):
    """Dropout of the stored values of a sparse input (dense inputs: plain dropout).

    ``keras.layers.Dropout`` needs a dense tensor; on a bag of words that would
    mean a random mask over the whole vocabulary at every step. This drops the
    words a review holds instead (scaled by ``1 / (1 - rate)``, as dropout is),
    keeping the input sparse: a ``tf.SparseTensor`` on TensorFlow, a ``BCOO``
    array on JAX.

    Args:
        rate: Fraction of the stored values to drop while training.
        seed: Seed of the dropout masks.

    Example:
        >>> inputs = keras.Input(shape=(10000,), sparse=True)
        >>> SparseDropout(0.5)(inputs).sparse
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

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training or self.rate == 0:
            return inputs

        def drop(values: Any) -> Any:
            return keras.random.dropout(values, self.rate, seed=self.seed_generator)

        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            if isinstance(inputs, tf.SparseTensor):
                return tf.SparseTensor(inputs.indices, drop(inputs.values), inputs.dense_shape)
        elif backend == "jax":
            from jax.experimental import sparse as jsparse

            if isinstance(inputs, jsparse.BCOO):
                return jsparse.BCOO((drop(inputs.data), inputs.indices), shape=inputs.shape)
        return drop(inputs)

    def compute_output_spec(self, inputs: Any, training: bool = False) -> Any:
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype, sparse=inputs.sparse)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
