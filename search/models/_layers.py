"""Keras layers the spaces need and Keras does not ship."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from typing import Any

import keras

__all__ = [
    "Dense",
    "Dropout",
    "GlorotUniform",
    "InputDropout",
    "ScaledDense",
    "SparseDropout",
    "load_model",
    "plain_model",
    "save_model",
    "without_tensorflow",
]

# Keep probabilities are drawn in steps of 1/256: one random byte per input feature.
_LEVELS = 256


class _TracedRate:
    """What :class:`InputDropout` and :class:`Dropout` share: with ``traced``, one hyperparameter kept as a weight."""

    traced: bool
    rate_weight: Any = None

    def _keep_as_weight(self, name: str, value: float) -> None:
        if self.traced:
            self.rate_weight = _scalar(self, name, value)

    @property
    def hyperparameters(self) -> list[Any]:
        """The weights that hold hyperparameters (none unless traced)."""
        return [] if self.rate_weight is None else [self.rate_weight]

    def count_params(self) -> int:
        return 0  # its only weight, when traced, is a hyperparameter


def _scalar(layer: keras.layers.Layer, name: str, value: float) -> Any:
    """A non-trainable scalar weight of ``layer`` holding ``value``: an input of the compiled steps, not a constant."""
    return layer.add_weight(
        shape=(), initializer=keras.initializers.Constant(value), trainable=False, name=name, dtype="float32"
    )


@keras.saving.register_keras_serializable(package="search")
class InputDropout(_TracedRate, keras.layers.Layer):
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
        traced: Keep the rate as a value of the model (a non-trainable scalar weight) instead of a
            constant of its compiled program (see :class:`Dropout`).

    Examples:
        >>> inputs = keras.Input(shape=(10000,), sparse=True)
        >>> InputDropout(0.5)(inputs).sparse
        True
    """

    def __init__(self, rate: float, seed: int | None = None, *, traced: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed
        self.traced = traced
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.keep_levels = min(_LEVELS, max(1, round((1.0 - rate) * _LEVELS)))

    def build(self, input_shape: Any = None) -> None:
        self._keep_as_weight("keep_levels", self.keep_levels)

    @property
    def keep_probability(self) -> float:
        """The probability that a value is kept (``1 - rate`` rounded to 1/256)."""
        return self.keep_levels / _LEVELS

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training or (not self.traced and self.keep_levels == _LEVELS):
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
        if self.traced:
            levels = keras.ops.convert_to_tensor(self.rate_weight)
            keep = keras.ops.less(keras.ops.cast(self._random_bytes(values), levels.dtype), levels)
            scale = keras.ops.cast(_LEVELS / levels, values.dtype)
        else:
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
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "traced": self.traced}

    def plain(self) -> InputDropout:
        """This layer with its rate a constant."""
        return InputDropout(self.rate, self.seed, name=self.name)


@keras.saving.register_keras_serializable(package="search")
class Dropout(_TracedRate, keras.layers.Layer):
    """``keras.layers.Dropout`` whose rate can be a value of the model instead of a constant of its program.

    With ``traced=True`` the rate is a non-trainable scalar weight, so that the
    compiled training step of a model does not depend on it: models that differ
    only in their dropout rates (and L1/L2 strengths, see :class:`Dense`, and
    learning rates, which Keras keeps as a variable) run one compiled program.
    On JAX the masks are drawn as ``keras.layers.Dropout`` draws them (the same
    seed gives the same mask); on other backends a traced rate trains as a constant one.
    :func:`plain_model` turns the layer into a ``keras.layers.Dropout``.

    Args:
        rate: Fraction of the units to drop while training, in ``[0, 1)``.
        noise_shape: As ``keras.layers.Dropout``'s.
        seed: Seed of the masks.
        traced: Keep the rate as a weight.

    Examples:
        >>> layer = Dropout(0.5, traced=True)
        >>> out = layer(keras.ops.ones((2, 4)), training=True)
        >>> sorted({float(v) for v in keras.ops.convert_to_numpy(out).ravel()}) in ([0.0, 2.0], [2.0], [0.0])
        True
        >>> [v.name for v in layer.weights], layer.count_params()
        (['rate'], 0)
    """

    def __init__(
        self,
        rate: float,
        noise_shape: Any = None,
        seed: int | None = None,
        *,
        traced: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate, self.noise_shape, self.seed, self.traced = float(rate), noise_shape, seed, traced
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape: Any = None) -> None:
        self._keep_as_weight("rate", self.rate)

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training:
            return inputs
        if not self.traced or keras.backend.backend() != "jax":
            if self.rate == 0.0:
                return inputs
            return keras.random.dropout(inputs, self.rate, noise_shape=self.noise_shape, seed=self.seed_generator)
        import jax

        keep = 1.0 - keras.ops.convert_to_tensor(self.rate_weight)
        shape = tuple(
            inputs.shape[i] if self.noise_shape is None or self.noise_shape[i] is None else self.noise_shape[i]
            for i in range(len(inputs.shape))
        )
        mask = jax.random.bernoulli(self.seed_generator.next(), p=keep, shape=shape)
        mask = jax.numpy.broadcast_to(mask, inputs.shape)
        return jax.lax.select(mask, inputs / keep.astype(inputs.dtype), jax.numpy.zeros_like(inputs))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
            "traced": self.traced,
        }

    def plain(self) -> keras.layers.Layer:
        """A ``keras.layers.Dropout`` of this rate."""
        return keras.layers.Dropout(self.rate, noise_shape=self.noise_shape, seed=self.seed, name=self.name)


class _Penalty(keras.regularizers.Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``, the strengths read from two scalar weights (see :class:`Dense`).

    A term whose strength was zero when the layer was built is left out (the work of
    a penalty on a wide kernel at every step is not free).
    """

    def __init__(self, l1: Any, l2: Any, *, terms: tuple[bool, bool]) -> None:
        self.strengths, self.terms = (l1, l2), terms

    @property
    def l1(self) -> float:
        return float(keras.ops.convert_to_numpy(self.strengths[0]))

    @property
    def l2(self) -> float:
        return float(keras.ops.convert_to_numpy(self.strengths[1]))

    def __call__(self, x: Any) -> Any:
        l1, l2 = (keras.ops.convert_to_tensor(s) for s in self.strengths)
        penalty = keras.ops.convert_to_tensor(0.0, x.dtype)
        if self.terms[0]:
            penalty += l1 * keras.ops.sum(keras.ops.absolute(x))
        if self.terms[1]:
            penalty += l2 * keras.ops.sum(keras.ops.square(x))
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class _Strengths(keras.layers.Layer):
    """The L1 and L2 strengths of a traced :class:`Dense` layer, as two scalar weights."""

    def __init__(self, l1: float, l2: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.l1, self.l2 = _scalar(self, "l1", l1), _scalar(self, "l2", l2)
        self.built = True


@keras.saving.register_keras_serializable(package="search")
class Dense(keras.layers.Dense):
    """``keras.layers.Dense`` with an L1/L2 penalty on its kernel whose strengths can be values of the model.

    With ``traced=True`` the two strengths are non-trainable scalar weights, so
    that models that differ only in them run one compiled program (see
    :class:`Dropout`); which of the two terms is computed (a strength not zero)
    stays part of the program. Otherwise the penalty is Keras' ``L1L2``
    regularizer, present when a strength is not zero.
    :func:`plain_model` turns the layer into a ``keras.layers.Dense``.

    Args:
        units: Output units.
        l1: L1 strength on the kernel.
        l2: L2 strength on the kernel.
        traced: Keep the strengths as weights.
        **kwargs: ``keras.layers.Dense``'s other arguments (not ``kernel_regularizer``).

    Examples:
        >>> layer = Dense(2, l2=0.5, traced=True, kernel_initializer="ones")
        >>> _ = layer(keras.ops.ones((1, 3)))
        >>> float(sum(layer.losses)), layer.count_params()
        (3.0, 8)
    """

    def __init__(self, units: int, *, l1: float = 0.0, l2: float = 0.0, traced: bool = False, **kwargs: Any) -> None:
        if l1 or l2 or traced:
            kwargs["kernel_regularizer"] = None
        super().__init__(units, **kwargs)
        self.l1, self.l2, self.traced = float(l1), float(l2), traced
        if (l1 or l2) and not traced:
            self.kernel_regularizer = keras.regularizers.L1L2(l1=self.l1, l2=self.l2)
        self.strengths: _Strengths | None = None

    def build(self, input_shape: Any) -> None:
        if self.traced:
            # In a layer of their own: Keras' Dense saves and loads its own variables by a fixed list.
            self.strengths = _Strengths(self.l1, self.l2, name="strengths")
            if self.l1 or self.l2:
                terms = (self.l1 != 0.0, self.l2 != 0.0)
                self.kernel_regularizer = _Penalty(self.strengths.l1, self.strengths.l2, terms=terms)
        super().build(input_shape)

    @property
    def hyperparameters(self) -> list[Any]:
        """The weights that hold hyperparameters (none unless traced)."""
        return [self.strengths.l1, self.strengths.l2] if self.strengths is not None else []

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.l1 or self.l2 or self.traced:
            config |= {"kernel_regularizer": None, "l1": self.l1, "l2": self.l2, "traced": self.traced}
        return config

    def count_params(self) -> int:
        return super().count_params() - len(self.hyperparameters)

    def plain(self) -> keras.layers.Layer:
        """A ``keras.layers.Dense`` with Keras' ``L1L2`` regularizer of these strengths (none when both are zero)."""
        config = {k: v for k, v in self.get_config().items() if k not in ("l1", "l2", "traced")}
        if self.l1 or self.l2:
            config["kernel_regularizer"] = keras.regularizers.L1L2(l1=self.l1, l2=self.l2)
        return keras.layers.Dense.from_config(config)


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


class _Shift(keras.layers.Layer):
    """The scale and offset of a :class:`ScaledDense` layer with ``traced_scale``, as two scalar weights."""

    def __init__(self, scale: float, offset: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = _scalar(self, "scale", scale), _scalar(self, "offset", offset)
        self.built = True


@keras.saving.register_keras_serializable(package="search")
class ScaledDense(Dense):
    """A ``Dense`` layer whose outputs are multiplied by ``scale`` and shifted by ``offset``.

    A regression's output layer (:func:`search.models.output_layer`): with the
    targets' standard deviation and mean, its units work at the scale of a
    standardized target while the model predicts, and is trained and measured,
    in the targets' own units.

    Args:
        units: Output units.
        scale: What the ``Dense`` outputs are multiplied by.
        offset: What is added to them then.
        traced_scale: Keep ``scale`` and ``offset`` as values of the model (two
            non-trainable scalar weights) instead of constants of its compiled
            program: models fitted to different targets, such as the folds of a
            cross-validated trial, then run one compiled program.
        **kwargs: :class:`Dense`'s other arguments (its L1/L2 strengths included).

    Examples:
        >>> layer = ScaledDense(1, scale=10.0, offset=20.0, kernel_initializer="zeros")
        >>> float(layer(keras.ops.ones((1, 3)))[0, 0])
        20.0
        >>> layer = ScaledDense(1, scale=10.0, offset=20.0, traced_scale=True, kernel_initializer="ones")
        >>> float(layer(keras.ops.ones((1, 3)))[0, 0]), layer.count_params()
        (50.0, 4)
    """

    def __init__(
        self, units: int, *, scale: float = 1.0, offset: float = 0.0, traced_scale: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(units, **kwargs)
        self.scale, self.offset, self.traced_scale = float(scale), float(offset), traced_scale
        self.shift: _Shift | None = None

    def build(self, input_shape: Any) -> None:
        if self.traced_scale:
            # In a layer of their own, as the strengths of Dense: its own variables are saved by a fixed list.
            self.shift = _Shift(self.scale, self.offset, name="shift")
        super().build(input_shape)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        scale, offset = (self.scale, self.offset) if self.shift is None else (self.shift.scale, self.shift.offset)
        return super().call(inputs, training=training) * scale + offset

    @property
    def hyperparameters(self) -> list[Any]:
        """The weights that hold hyperparameters: traced strengths, and a traced scale and offset."""
        return [*super().hyperparameters, *([] if self.shift is None else [self.shift.scale, self.shift.offset])]

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "scale": self.scale, "offset": self.offset}
        return (config | {"traced_scale": True}) if self.traced_scale else config

    def plain(self) -> keras.layers.Layer:
        """This layer with its strengths (Keras' ``L1L2`` regularizer), scale and offset constants."""
        config = {k: v for k, v in self.get_config().items() if k not in ("traced", "traced_scale")}
        return ScaledDense.from_config(config)


@keras.saving.register_keras_serializable(package="search")
class SparseDropout(InputDropout):
    """The earlier name of :class:`InputDropout`, kept so that saved models still load."""


def _sparse_inputs(model: keras.Model) -> bool:
    """Whether any input of ``model`` is sparse."""
    return any(getattr(t, "sparse", False) for t in keras.tree.flatten(model.inputs))


def _traced(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` keeps hyperparameters (rates, strengths, a regression's scale and offset) as values."""
    return bool(getattr(layer, "traced", False) or getattr(layer, "traced_scale", False))


def plain_model(model: keras.Model) -> keras.Model:
    """``model`` with its traced hyperparameters turned into constants: ordinary Keras layers, the same weights.

    :class:`Dropout` becomes ``keras.layers.Dropout``, :class:`Dense` a
    ``keras.layers.Dense`` with Keras' ``L1L2`` regularizer (none for zero
    strengths), :class:`ScaledDense` keeps its class with its scale and offset
    constants (as files saved before ``traced_scale`` hold it); the weights, and
    for a compiled model its loss, metrics and optimizer state, are copied. A
    model without traced layers is returned as it is.

    Examples:
        >>> inputs = keras.Input((3,))
        >>> model = keras.Model(inputs, Dense(1, l2=0.01, traced=True)(Dropout(0.2, traced=True)(inputs)))
        >>> [type(layer).__name__ for layer in plain_model(model).layers]
        ['InputLayer', 'Dropout', 'Dense']
        >>> plain_model(model).layers[-1].kernel_regularizer.l2, plain_model(model).count_params()
        (0.01, 4)
    """
    if not any(_traced(layer) for layer in model.layers):
        return model

    def plain(layer: keras.layers.Layer) -> keras.layers.Layer:
        if _traced(layer):
            return layer.plain()
        return layer.__class__.from_config(layer.get_config())

    if isinstance(model, keras.Sequential):  # its Input is a layer of its own, cloned with the rest
        copy = keras.models.clone_model(model, clone_function=plain)
    else:
        # clone_model's own inputs would not be sparse; they keep their layers' names (dict inputs go by them)
        names = {id(layer.output): layer.name for layer in model.layers if isinstance(layer, keras.layers.InputLayer)}
        inputs = keras.tree.map_structure(
            lambda t: keras.Input(batch_shape=t.shape, dtype=t.dtype, sparse=t.sparse, name=names.get(id(t))),
            model.input,
        )
        copy = keras.models.clone_model(model, input_tensors=inputs, clone_function=plain)
    for old, new in zip(model.layers, copy.layers, strict=True):
        hyper = {id(v) for v in getattr(old, "hyperparameters", ())}
        new.set_weights([v.numpy() for v in old.weights if id(v) not in hyper])
    if model.compiled and model.optimizer is not None:
        options = keras.saving.deserialize_keras_object(model.get_compile_config())
        optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
        copy.compile(**{**options, "optimizer": optimizer})
        if model.optimizer.built:
            optimizer.build(copy.trainable_variables)
            for old_value, new_value in zip(model.optimizer.variables, optimizer.variables, strict=True):
                new_value.assign(old_value)
    return copy


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
    which compiling again would disturb). Otherwise traced hyperparameters are
    saved as constants (see :func:`plain_model`): the file holds ordinary Keras layers.

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
    with without_tensorflow():
        if not as_is:
            # a model Keras cannot clone or a compile config it cannot rebuild: saved as it is
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                model = plain_model(model)  # the model itself when no layer is traced
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
def without_tensorflow() -> Iterator[None]:
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
