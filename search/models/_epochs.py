"""Training one compiled epoch at a time: what the objective and the holdout train with."""

from __future__ import annotations

import collections
import functools
import json
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from search.models._training import eval_batch_size, fit_arguments, is_numeric, is_sparse, on_device, padded_size

if TYPE_CHECKING:
    import keras

__all__ = ["compiled_epochs", "epoch_rows", "train"]


def compiled_epochs(x: Any, validation: tuple[Any, ...] | None = None) -> bool:
    """Whether :func:`train` runs each epoch as one compiled call for these inputs.

    On Keras' JAX backend, for NumPy arrays and SciPy sparse matrices (training and
    validation inputs alike); other inputs (strings, streams, several inputs) and
    other backends go through ``model.fit``.

    Examples:
        >>> compiled_epochs(["a review"])
        False
    """
    import keras

    def fits(value: Any) -> bool:
        return is_numeric(value) or is_sparse(value)

    return keras.backend.backend() == "jax" and fits(x) and (validation is None or fits(validation[0]))


def train(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    batch_size: int,
    seed: int,
    epochs: int,
    initial_epoch: int = 0,
    validation: tuple[Any, ...] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    sample_weight: Any = None,
    class_weight: dict[int, float] | None = None,
) -> keras.callbacks.History:
    """Train ``model`` on ``x, y`` as ``model.fit`` does, each epoch one compiled call where it can.

    On JAX, for arrays (see :func:`compiled_epochs`), an epoch is one call of a
    compiled ``jax.lax.scan`` of the model's own ``train_step`` over the epoch's
    shuffled batches (all ``batch_size`` rows, the last completed with rows of
    weight zero: see :func:`epoch_rows`), and validation one call of a
    scan of its ``test_step``. A step of a small model takes less time than Python
    takes to dispatch it (about 0.8 ms on one core): at a batch of 32 that was 0.4 s
    of every ``imdb-bow`` epoch, now none. Callbacks see each epoch as one batch
    (``on_train_batch_begin`` and ``_end`` once an epoch), the model's variables are
    up to date at every epoch's end, and ``model.stop_training`` is honoured there.
    Anything else trains with ``model.fit``, the rows given as they are (see
    :func:`search.models._training.fit_arguments`).

    Args:
        model: A compiled Keras model.
        x: Training inputs.
        y: Training targets (``None`` for a stream of batches).
        batch_size: Rows per training step.
        seed: Seed of the per-epoch shuffles of compiled epochs (``model.fit`` shuffles with Keras' own
            seed, see :func:`search.models.set_seed`).
        epochs: Index of the epoch to end before (as ``model.fit``'s ``epochs``).
        initial_epoch: Epoch to start from (a resumed model).
        validation: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight)``, evaluated after every epoch.
        callbacks: Keras callbacks.
        sample_weight: A weight per training example, as ``model.fit`` takes it.
        class_weight: A weight per class number, as ``model.fit`` takes it (its
            examples' weights are multiplied by it, as Keras does).

    Returns:
        The ``History`` of the run.

    Examples:
        >>> import keras
        >>> x, y = np.ones((10, 3), "float32"), np.ones(10, "float32")
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> history = train(model, x, y, batch_size=4, seed=0, epochs=2, validation=(x, y))
        >>> sorted(history.history), len(history.history["loss"])
        (['loss', 'val_loss'], 2)
    """
    weights = example_weights(y, sample_weight, class_weight)
    if not isinstance(y, np.ndarray) or not compiled_epochs(x, validation):
        arguments = fit_arguments(x, y, batch_size=batch_size, validation=validation)
        return model.fit(
            **arguments,
            **({} if weights is None else {"sample_weight": weights}),
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=list(callbacks),
            verbose=0,
        )
    loop = _EpochLoop(model, x, y, batch_size=batch_size, seed=seed, validation=validation, weights=weights)
    return loop.run(epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks)


def example_weights(y: Any, sample_weight: Any, class_weight: dict[int, float] | None) -> np.ndarray | None:
    """Each training example's weight: its sample weight times its class's, ``None`` when neither is given.

    Examples:
        >>> example_weights(np.array([0.0, 1.0, 1.0]), None, {1: 3.0}).tolist()
        [1.0, 3.0, 3.0]
        >>> example_weights(np.array([0, 1]), np.array([0.5, 2.0]), {0: 2.0}).tolist()
        [1.0, 2.0]
    """
    if sample_weight is None and not class_weight:
        return None
    n = len(y) if y is not None else len(sample_weight)
    weights = np.ones(n, np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32).copy()
    if class_weight:
        classes = np.asarray(y).reshape(n, -1)[:, 0].astype(np.int64)
        weights *= np.array([class_weight.get(int(c), 1.0) for c in classes], np.float32)
    return weights


def epoch_rows(order: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """An epoch's row numbers ``order`` in batches of ``batch_size``, and each row's sample weight.

    The last batch is filled up with rows from the start of ``order``, weighted zero;
    its real rows get weight ``batch_size / real``, so that its loss, a mean over all
    ``batch_size`` rows, equals the mean over the real ones, as Keras' own smaller
    last batch gives. (Keras' unweighted training metrics count the filling rows too.)

    Examples:
        >>> rows, weights = epoch_rows(np.arange(5), 2)
        >>> rows.tolist(), weights.tolist()
        ([[0, 1], [2, 3], [4, 0]], [[1.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    """
    n_batches = math.ceil(len(order) / batch_size)
    rows = np.resize(order, n_batches * batch_size).reshape(n_batches, batch_size)
    weights = np.ones((n_batches, batch_size), np.float32)
    real = len(order) - (n_batches - 1) * batch_size
    if real < batch_size:
        weights[-1, :real] = batch_size / real
        weights[-1, real:] = 0.0
    return rows, weights


class _EpochLoop:
    """The compiled-epoch loop of :func:`train` for one model and one data set."""

    def __init__(
        self,
        model: Any,
        x: Any,
        y: Any,
        *,
        batch_size: int,
        seed: int,
        validation: tuple[Any, ...] | None,
        weights: np.ndarray | None = None,
    ) -> None:
        self.model, self.batch_size, self.weights = model, batch_size, weights
        self.data = _Batches(x, y)
        self.data.reserve(batch_size, seed=seed + 1)
        self._rng = np.random.default_rng(seed)
        self.validation = None if validation is None else _Validation(model, *validation, batch_size=batch_size)
        self._train: Any = None

    def _build(self) -> None:
        """Build the model, its optimizer, loss and metrics as ``model.fit`` would (one symbolic pass, no step)."""
        model = self.model
        model.fit(_one_batch()(*self.data.first(self.batch_size)), epochs=0, verbose=0)
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)

    def run(self, *, epochs: int, initial_epoch: int, callbacks: Sequence[Any]) -> Any:
        import jax
        import keras

        model = self.model
        self._build()
        targets = f"{self.data.y.ndim}:{self.data.y.dtype}"
        self._train = _program(
            model,
            f"train:{targets}",
            lambda m: jax.jit(_scan_train(m), donate_argnums=0, static_argnames=("width", "size")),
        )
        callback_list = keras.callbacks.CallbackList(
            list(callbacks), add_history=True, add_progbar=False, epochs=epochs, steps=1, model=model
        )
        model.stop_training = False
        logs: dict[str, float] = {}
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            callback_list.on_epoch_begin(epoch)
            callback_list.on_train_batch_begin(0)
            rows, weights = epoch_rows(self._rng.permutation(self.data.n_rows), self.batch_size)
            if self.weights is not None:
                weights = weights * self.weights[rows]
            arrays, batches, size = self.data.stacked(rows)
            state = _state(model, optimizer=True)
            state = self._train(state, arrays, (*batches, weights), width=self.data.width, size=size)
            _sync(model, state, optimizer=True)
            logs = _floats(model.get_metrics_result())
            callback_list.on_train_batch_end(0, logs)
            if self.validation is not None:
                logs |= {f"val_{name}": value for name, value in self.validation.evaluate().items()}
            callback_list.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        if model.optimizer is not None and epochs > initial_epoch:
            model.optimizer.finalize_variable_values(model.trainable_weights)
        callback_list.on_train_end(logs)
        return model.history


class _Batches:
    """Inputs and targets cut into stacked batches of given rows, for a compiled scan over them.

    Dense arrays stay on the device (see :func:`on_device`) and each batch is a
    gather of its rows inside the compiled step. A sparse matrix stays on the host:
    its rows in the epoch's order are cut there (SciPy's row indexing and one copy to
    the device: about 10 ms for the 15,000 ``imdb-bow`` reviews, against 40-70 ms for
    the same cut on JAX's CPU backend), laid end to end, and each batch is a slice of
    ``size`` stored values (the batch's own, then zeros) inside the compiled step.
    ``size``, a compiled shape, is padded up to a few values (see :func:`padded_size`),
    reserved up front (:meth:`reserve`) and only grows, so that epochs rarely compile again.
    """

    def __init__(self, x: Any, y: Any) -> None:
        self.n_rows = int(x.shape[0])
        self.width = int(x.shape[1]) if len(x.shape) > 1 else 1
        y = np.asarray(y)
        y = y.astype(np.float32) if y.dtype == np.float64 else y
        self.sparse = is_sparse(x)
        if self.sparse:
            self.host, self.y = x.tocsr(), y
        else:
            self.x, self.y = on_device(x), on_device(y)
        self.size = 0

    def reserve(self, batch_size: int, *, seed: int, epochs: int = 16) -> None:
        """Start ``size`` at the largest batch of ``epochs`` simulated shuffles (sparse rows; cheap, on row lengths).

        A batch larger than the padded size so far compiles the epoch again (about a
        second for a small model on one core): with the size taken from the first
        epoch alone, one trial in five compiled twice.
        """
        if self.sparse:
            lengths, rng = np.diff(self.host.indptr), np.random.default_rng(seed)
            largest = max(
                int(lengths[epoch_rows(rng.permutation(self.n_rows), batch_size)[0]].sum(axis=1).max())
                for _ in range(epochs)
            )
            self.size = max(self.size, padded_size(largest))

    def first(self, batch_size: int) -> tuple[Any, Any]:
        """One batch (the first rows) as the model takes it, to build the model from."""
        rows = np.arange(min(self.n_rows, batch_size))
        if self.sparse:
            coo = self.host[rows].tocoo()
            indices = np.stack([coo.row, coo.col], axis=1).astype(np.int32)
            return _bcoo(coo.data.astype(np.float32), indices, (len(rows), self.width)), self.y[rows]
        return self.x[rows], self.y[rows]

    def stacked(self, rows: np.ndarray, *, grow: bool = True) -> tuple[tuple[Any, ...], tuple[Any, ...], int]:
        """``rows`` (one batch a row) as what the compiled step slices: the arrays, the per-batch parts, ``size``."""
        import jax

        rows = np.asarray(rows, np.int32)
        if not self.sparse:
            return (self.x, self.y), (rows,), 0
        n_batches, batch_size = rows.shape
        cut = self.host[rows.reshape(-1)]
        bounds = cut.indptr[::batch_size]  # where each batch starts, and where the last one ends
        counts = np.diff(bounds)
        size = padded_size(int(counts.max(initial=0)))
        if grow:
            size = self.size = max(self.size, size)
        total = (n_batches + 1) * size  # every slice of size values from a batch's start stays inside
        values, columns, local = np.zeros(total, np.float32), np.zeros(total, np.int32), np.zeros(total, np.int32)
        values[: cut.nnz], columns[: cut.nnz] = cut.data, cut.indices
        local[: cut.nnz] = np.repeat(np.tile(np.arange(batch_size, dtype=np.int32), n_batches), np.diff(cut.indptr))
        arrays = jax.device_put((values, columns, local))
        batches = jax.device_put((bounds[:-1].astype(np.int32), counts.astype(np.int32), self.y[rows]))
        return arrays, batches, size


class _Validation:
    """Validation inputs, cut once into batches of one shape (and a smaller last one) and kept."""

    def __init__(self, model: Any, x: Any, y: Any, weights: Any = None, *, batch_size: int) -> None:
        import jax

        self.model, self.data = model, _Batches(x, y)
        n = self.data.n_rows
        size = eval_batch_size(n, batch_size)
        full, rest = divmod(n, size)
        order = np.arange(n, dtype=np.int32)
        groups = [order[: full * size].reshape(full, size)] if full else []
        if rest:
            groups.append(order[full * size :].reshape(1, rest))
        self._groups = [self.data.stacked(rows, grow=False) for rows in groups]
        if weights is not None:  # each batch's rows' weights, last: the test step weighs the loss by them
            values = np.asarray(weights, np.float32)
            self._groups = [
                (a, (*b, jax.device_put(values[r])), s) for (a, b, s), r in zip(self._groups, groups, strict=True)
            ]
        self.weighted = weights is not None
        self._evaluate: Any = None

    def evaluate(self) -> dict[str, float]:
        """The model's validation metrics now (its metrics variables hold them afterwards)."""
        import jax

        model = self.model
        if self._evaluate is None:  # the model is built now: its metrics are resolved
            weighted = self.weighted
            test = functools.partial(jax.jit, static_argnames=("width", "size"))
            kind = f"test-{weighted}:{self.data.y.ndim}:{self.data.y.dtype}"  # the targets: what metrics resolve to
            self._evaluate = _program(model, kind, lambda m: test(_scan_test(m, weighted=weighted)))
        model.reset_metrics()
        metrics = [v.value for v in model.metrics_variables]
        state = _state(model)[:2]
        for arrays, batches, size in self._groups:
            metrics = self._evaluate(state, metrics, arrays, batches, width=self.data.width, size=size)
        for variable, value in zip(model.metrics_variables, metrics, strict=True):
            variable.assign(value)
        return _floats(model.get_metrics_result())


_PROGRAMS: collections.OrderedDict[str, Any] = collections.OrderedDict()
_KEPT = 8  # structures whose compiled steps a process keeps (each keeps one model of its structure alive)


def _program(model: Any, kind: str, make: Callable[[Any], Any]) -> Any:
    """The compiled step function ``make(model)``, shared by every model of ``model``'s structure in this process.

    A step function takes the model's variables as values, so a model of the same
    structure (see :func:`program_key`) runs the same function: JAX then finds its
    traced and compiled program in memory, with no tracing, lowering or compiling
    (a second with the persistent cache alone, which still traces and lowers each time).
    ``kind`` names the step and what else decides it (the targets' rank and type, which
    decide what a metric such as ``"accuracy"`` resolves to). An entry whose model was
    compiled again since (its optimizer or metrics replaced) is made anew.
    """
    key = program_key(model)
    if key is None:
        return make(model)
    key = f"{kind}:{key}"
    entry = _PROGRAMS.get(key)
    if entry is None or _compiled_objects(entry[1]) != entry[2]:
        entry = _PROGRAMS[key] = (make(model), model, _compiled_objects(model))
        while len(_PROGRAMS) > _KEPT:
            _PROGRAMS.popitem(last=False)
    _PROGRAMS.move_to_end(key)
    return entry[0]


def _compiled_objects(model: Any) -> tuple[int, ...]:
    """Which optimizer and metric objects ``model`` holds now (compiling it again replaces them)."""
    return (id(model.optimizer), *(id(m) for m in model.metrics), len(model.metrics_variables))


def program_key(model: Any) -> str | None:
    """What decides a compiled Keras model's training and test steps besides its variables' values; ``None``: unknown.

    The model's class, its layers' configurations (names replaced by their
    positions; the seeds, and the rates, strengths and output scales the layers keep as values,
    left out, whether each penalty term is there kept, see :mod:`search.models.layers`), its loss, metrics and optimizer
    configurations (the learning rate, a Keras variable, left out) and what its
    metrics were resolved to (a built model's metrics variables). Only models of
    Keras' own classes, built from Keras' and this project's layers and compiled
    with Keras' own losses and metrics, have a key: anything else may hold what a
    configuration does not show, and gets a program of its own.

    Examples:
        >>> import keras
        >>> from search.models.layers import Dropout
        >>> def model(rate, lr):
        ...     inputs = keras.Input((3,))
        ...     m = keras.Model(inputs, keras.layers.Dense(1)(Dropout(rate, traced=True)(inputs)))
        ...     m.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
        ...     return m
        >>> program_key(model(0.1, 1e-3)) == program_key(model(0.5, 1e-2))
        True
        >>> program_key(model(0.1, 1e-3)) == program_key(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]))
        False
    """

    import warnings

    from search.models._layers import without_tensorflow  # imports Keras

    # Keras' serialization would import TensorFlow to ask whether it is installed, and warns of lambdas.
    with without_tensorflow(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _program_key(model)
        except Exception:  # whatever cannot be described gets programs of its own
            return None


def _program_key(model: Any) -> str | None:
    import keras

    if type(model) not in (keras.Model, keras.Sequential) and type(model).__module__.split(".")[0] != "keras":
        return None
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    layers = model.layers
    if any(not _known(layer) or hasattr(layer, "layers") for layer in layers):
        return None
    names = {layer.name: f"#{i}" for i, layer in enumerate(layers)}
    described = []
    for layer in layers:
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "seed")}
        if getattr(layer, "traced", False):  # values, not constants; only whether a penalty term is there counts
            config = {k: v != 0.0 if k in ("l1", "l2") else v for k, v in config.items() if k != "rate"}
        if getattr(layer, "traced_scale", False):  # a regression's output scale and offset, values too
            config = {k: v for k, v in config.items() if k not in ("scale", "offset")}
        described.append([type(layer).__module__, type(layer).__name__, config])
    optimizer = {k: v for k, v in model.optimizer.get_config().items() if k != "name"}
    if isinstance(optimizer.get("learning_rate"), float | int):  # a variable; a schedule's constants stay in the key
        del optimizer["learning_rate"]
    optimizer["class"] = [type(model.optimizer).__module__, type(model.optimizer).__name__]
    resolved = [v.path for v in model.metrics_variables]
    compiled = {k: v for k, v in model.get_compile_config().items() if k != "optimizer"}
    graph = model.get_config()  # its layers' connections; their configurations are ``described``
    connections = _renamed({k: v for k, v in graph.items() if k != "layers"}, names)
    connections["layers"] = [_renamed(layer.get("inbound_nodes", []), names) for layer in graph.get("layers", [])]
    inputs = [[list(t.shape), str(t.dtype), bool(t.sparse)] for t in model.inputs]
    outputs = [_renamed(name, names) for name in getattr(model, "output_names", [])]
    whole = [type(model).__name__, connections, described, optimizer, compiled, resolved, inputs, outputs]
    whole.append(keras.config.dtype_policy().name)
    if not _keras_objects(compiled) or not _keras_objects(described) or not _keras_objects(optimizer):
        return None
    return json.dumps(whole, sort_keys=True, default=_refuse)


def _ours(module: str) -> bool:
    """Whether ``module`` is Keras' or holds this project's layers: what they compute, their configurations say."""
    return module == "keras" or module.startswith("keras.") or module == "search.models._layers"


def _known(layer: Any) -> bool:
    """A layer whose configuration says all it computes: Keras' own (not ``Lambda``) or this project's."""
    return type(layer).__name__ != "Lambda" and _ours(type(layer).__module__)


def _keras_objects(config: Any) -> bool:
    """Whether every serialized object in ``config`` (a loss, a metric, an activation) is Keras' or this project's."""
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__" or set(config) == {"value"}:  # a lambda's code, dumped
            return False
        module = config.get("module")
        if isinstance(module, str) and not _ours(module):
            return False
        return all(_keras_objects(v) for v in config.values())
    if isinstance(config, list | tuple):
        return all(_keras_objects(v) for v in config)
    return True


def _renamed(config: Any, names: dict[str, str]) -> Any:
    """``config`` with every string that names a layer replaced by that layer's position."""
    if isinstance(config, dict):
        return {k: _renamed(v, names) for k, v in config.items() if k != "name"}
    if isinstance(config, list | tuple):
        return [_renamed(v, names) for v in config]
    if isinstance(config, str):
        return names.get(config, config)
    return config


def _refuse(value: Any) -> Any:
    raise TypeError(f"not JSON: {type(value).__name__}")


def _state(model: Any, *, optimizer: bool = False) -> tuple[Any, ...]:
    state = [[v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]]
    if optimizer:
        state.append([v.value for v in model.optimizer.variables] if model.optimizer is not None else [])
    state.append([v.value for v in model.metrics_variables])
    return tuple(state)


def _sync(model: Any, state: tuple[Any, ...], *, optimizer: bool = False) -> None:
    groups = [model.trainable_variables, model.non_trainable_variables]
    if optimizer:
        groups.append(model.optimizer.variables if model.optimizer is not None else [])
    groups.append(model.metrics_variables)
    for variables, values in zip(groups, state, strict=True):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)


def _floats(logs: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}


def _batch(arrays: tuple[Any, ...], batch: tuple[Any, ...], *, width: int, size: int) -> tuple[Any, Any]:
    """One batch's inputs and targets inside the compiled step (see :class:`_Batches`)."""
    import jax
    import jax.numpy as jnp

    if not size:
        x, y = arrays
        return x[batch[0]], y[batch[0]]
    values, columns, local = (jax.lax.dynamic_slice(a, (batch[0],), (size,)) for a in arrays)
    stored = jnp.arange(size, dtype=jnp.int32) < batch[1]
    values = jnp.where(stored, values, 0.0)
    indices = jnp.stack([jnp.where(stored, local, 0), jnp.where(stored, columns, 0)], axis=1)
    targets = batch[2]
    return _bcoo(values, indices, (targets.shape[0], width)), targets


def _scan_train(model: Any) -> Callable[..., Any]:
    import jax

    def epoch(state: Any, arrays: Any, batches: tuple[Any, ...], *, width: int, size: int) -> Any:
        def step(state: Any, batch: tuple[Any, ...]) -> tuple[Any, None]:
            inputs, targets = _batch(arrays, batch, width=width, size=size)
            _, state = model.train_step(state, (inputs, targets, batch[-1]))
            return state, None

        state, _ = jax.lax.scan(step, state, batches)
        return state

    return epoch


def _scan_test(model: Any, *, weighted: bool = False) -> Callable[..., Any]:
    import jax

    def evaluate(state: Any, metrics: Any, arrays: Any, batches: tuple[Any, ...], *, width: int, size: int) -> Any:
        def step(metrics: Any, batch: tuple[Any, ...]) -> tuple[Any, None]:
            inputs, targets = _batch(arrays, batch, width=width, size=size)
            data = (inputs, targets, batch[-1]) if weighted else (inputs, targets)
            _, (_, _, metrics) = model.test_step((*state, metrics), data)
            return metrics, None

        metrics, _ = jax.lax.scan(step, metrics, batches)
        return metrics

    return evaluate


def _bcoo(values: Any, indices: Any, shape: tuple[int, int]) -> Any:
    import jax.experimental.sparse as jsparse

    return jsparse.BCOO((values, indices), shape=shape, indices_sorted=False, unique_indices=False)


@functools.cache
def _one_batch() -> type:
    """A :class:`keras.utils.PyDataset` of one ``(x, y)`` batch: what ``model.fit(..., epochs=0)`` builds from."""
    import keras

    class OneBatch(keras.utils.PyDataset):
        def __init__(self, x: Any, y: Any) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.batch = (x, y)

        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> tuple[Any, Any]:
            return self.batch

    return OneBatch
