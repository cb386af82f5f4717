"""Keras training helpers shared by the objective and the holdout evaluation."""

from __future__ import annotations

import functools
import gc
import importlib.util
import math
import os
import random
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from search.errors import InputError
from search.models._compile import use_compile_cache

if TYPE_CHECKING:
    import keras

__all__ = [
    "best_epoch",
    "configure_backend",
    "epoch_recorder",
    "eval_arguments",
    "eval_batch_size",
    "evaluate_and_predict",
    "example_shape",
    "fit_arguments",
    "free_memory",
    "freeze_long_lived",
    "is_numeric",
    "is_sparse",
    "on_device",
    "padded_size",
    "set_seed",
    "use_backend",
]


def configure_backend() -> None:
    """Settings that must be made before TensorFlow or JAX starts (user values win).

    Quiet TensorFlow start-up logs; let GPU memory grow on demand instead of being
    taken whole by the first process, so several trials or workers share one GPU;
    keep compiled programs in the machine's persistent compilation cache
    (:func:`search.models._compile.use_compile_cache`).
    """
    if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):  # XLA's C++ logs (JAX's too) follow it: warnings and errors only
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    use_compile_cache()


def use_backend(name: str = "") -> bool:
    """Make this process train on Keras backend ``name``, if Keras is not imported yet.

    Keras reads ``KERAS_BACKEND`` once, at import; so this sets it when Keras is
    not loaded yet, and otherwise only checks the backend Keras loaded with. The
    settings that must precede TensorFlow and JAX (:func:`configure_backend`) are
    made first.

    Args:
        name: ``"tensorflow"``, ``"jax"``, or empty for whatever Keras is configured with.

    Returns:
        Whether this process trains on ``name``; ``False`` means another process is needed.

    Raises:
        InputError: The backend's package is not installed.

    Examples:
        >>> use_backend("")
        True
    """
    configure_backend()
    if not name:
        return True
    if importlib.util.find_spec(name) is None:
        raise InputError(f"the study trains on Keras' {name} backend, which is not installed (pip install {name})")
    if "keras" in sys.modules:
        return bool(sys.modules["keras"].backend.backend() == name)
    os.environ["KERAS_BACKEND"] = name
    return True


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend for one training run, importing no framework the backend lacks.

    Keras' own ``set_random_seed`` imports TensorFlow whatever the backend (to
    seed ``tf.data``): seconds and hundreds of MB in each JAX worker. On JAX the
    initializers and dropout of a model take their seeds from Python's ``random``
    (``keras.random.SeedGenerator`` without a seed), so seeding Python and NumPy
    makes its runs repeat.

    Examples:
        >>> import random
        >>> set_seed(3); first = random.random(), np.random.rand()
        >>> set_seed(3); first == (random.random(), np.random.rand())
        True
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)


def free_memory(*, collect: bool = True) -> None:
    """Drop Keras' global state and collect garbage between trials (one collection, not Keras' own second one).

    ``collect=False``: Keras' global state only (layer names start again from ``dense``), no collection.
    """
    import keras

    global _late_freezes
    policy = keras.config.dtype_policy()  # one's own mixed precision is a setting, not state to drop
    keras.backend.clear_session(free_memory=False)
    keras.config.set_dtype_policy(policy)
    if not collect:
        return
    gc.collect()
    if _frozen and _late_freezes < _LATE_FREEZES:
        # What the first trials load on first use (backend modules, plotting) lives on too: out of the
        # collector's reach as well, or each later collection walks its ~300,000 objects (0.12 s a trial).
        gc.freeze()
        _late_freezes += 1


_frozen = False
_late_freezes = 0
_LATE_FREEZES = 2  # trials after which what survived a collection is frozen as well


def freeze_long_lived() -> None:
    """Put what is alive now out of the garbage collector's reach, once per process (``gc.freeze``).

    Called before the first trial builds a model: what is alive then (the imported
    TensorFlow, JAX and Keras, the loaded data) lives until the process ends, and a
    full collection between trials would otherwise walk its millions of objects
    every time (seconds per trial on a small model).

    Examples:
        >>> import gc
        >>> freeze_long_lived()
        >>> gc.get_freeze_count() > 0
        True
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def best_epoch(values: list[float], direction: str) -> int:
    """Index of the first best finite value, as ``EarlyStopping`` picks it.

    Examples:
        >>> best_epoch([0.8, 0.9, 0.9, 0.85], "maximize")
        1
    """
    sign = -1.0 if direction == "maximize" else 1.0
    finite = [(sign * v, i) for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        raise ValueError("no finite value to pick a best epoch from")
    return min(finite)[1]


def epoch_recorder(on_epoch: Callable[[int, dict[str, list[float]]], None] | None = None) -> keras.callbacks.Callback:
    """A Keras callback whose ``history`` maps each log key to its per-epoch floats.

    Keras' own ``History`` is lost when a callback raises (pruning), so the
    objective keeps its own record, with each epoch's wall time as ``epoch_time``.
    ``recorder.best_epoch(key, direction)`` is the epoch whose ``key`` was best
    (see :func:`best_epoch`).

    Args:
        on_epoch: Optional ``f(epoch, history)`` called after every epoch.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> recorder = epoch_recorder()
        >>> _ = model.fit(np.ones((2, 3)), np.ones(2), epochs=3, verbose=0, callbacks=[recorder])
        >>> sorted(recorder.history), len(recorder.history["loss"])
        (['epoch_time', 'loss'], 3)
        >>> recorder.history["loss"] = [0.5, 0.2, 0.3]
        >>> recorder.best_epoch("loss", "minimize")
        1
    """
    import keras

    class _Recorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.history: dict[str, list[float]] = {}
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for key, value in (logs or {}).items():
                self.history.setdefault(key, []).append(float(value))
            self.history.setdefault("epoch_time", []).append(time.perf_counter() - self._start)
            if on_epoch is not None:
                on_epoch(epoch, self.history)

        def best_epoch(self, key: str, direction: str) -> int:
            """Index of the first epoch with the best finite ``key`` (see :func:`best_epoch`)."""
            return best_epoch(self.history[key], direction)

    return _Recorder()


def fit_arguments(
    x: Any,
    y: np.ndarray | None,
    *,
    batch_size: int,
    validation: tuple[Any, ...] | None = None,
) -> dict[str, Any]:
    """The data arguments of ``model.fit`` for training on ``x, y`` in batches of ``batch_size``.

    What :func:`search.models.train` passes to ``model.fit`` for the inputs it
    does not train as compiled epochs (strings, streams, several inputs, and
    every input on the TensorFlow backend): the training rows as they are (Keras
    batches and shuffles them), the validation rows as :func:`eval_arguments`
    feeds them, in batches of :func:`eval_batch_size` rows.

    Args:
        x: Training inputs.
        y: Training targets (``None``: ``x`` is a stream of ``(x, y)`` batches).
        batch_size: Rows per training step.
        validation: ``(x_val, y_val)``, evaluated after every epoch.

    Examples:
        >>> import keras
        >>> x, y = np.ones((2, 3), "float32"), np.ones(2, "float32")
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> history = model.fit(**fit_arguments(x, y, batch_size=2, validation=(x, y)), epochs=2, verbose=0)
        >>> sorted(history.history), len(history.history["loss"])
        (['loss', 'val_loss'], 2)
    """
    if y is None:  # a stream of (x, y) batches (tf.data, PyDataset), fed as it is
        return {"x": x, "shuffle": False} | ({} if validation is None else {"validation_data": validation[0]})
    args: dict[str, Any] = {"x": x, "y": y, "batch_size": batch_size}
    if validation is not None:
        x_val, y_val, *weights = validation
        size = eval_batch_size(len(y_val), batch_size)
        if weights and weights[0] is not None:  # weighed validation rows, as Keras takes them
            return args | {"validation_data": (x_val, y_val, weights[0]), "validation_batch_size": size}
        val = eval_arguments(x_val, y_val, batch_size=size)
        args["validation_data"] = val["x"] if "y" not in val else (val["x"], val["y"])
        if "batch_size" in val:
            args["validation_batch_size"] = val["batch_size"]
    return args


def example_shape(x: Any) -> tuple[int, ...]:
    """The shape of one example of ``x`` (``()`` for a stream of batches, whose model reads what comes).

    Examples:
        >>> example_shape(np.zeros((5, 3))), example_shape(iter([]))
        ((3,), ())
    """
    return tuple(x.shape[1:]) if hasattr(x, "shape") else ()


def eval_arguments(x: Any, y: np.ndarray | None, *, batch_size: int) -> dict[str, Any]:
    """The data arguments of ``model.evaluate`` (and, without ``y``, ``predict``) for ``x, y``.

    Batches in order, of ``batch_size`` rows and a smaller last one. On JAX,
    numeric arrays are on the device (see :func:`on_device`) and sparse matrices
    come as ``BCOO`` batches cut on the device, all padded to one number of stored
    values (see :class:`_DeviceCSR`): passing NumPy arrays would copy them to the
    device at every step (for the 10,000 validation reviews, 0.27 s of a 0.33 s
    evaluation), and each number of stored values compiles the test step anew.

    Examples:
        >>> import keras
        >>> x_test, y_test = np.ones((2, 3), "float32"), np.ones(2, "float32")
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> args = eval_arguments(x_test, y_test, batch_size=1000)
        >>> list(model.evaluate(**args, return_dict=True, verbose=0))
        ['loss']
        >>> model.predict(**{k: v for k, v in args.items() if k != "y"}, verbose=0).shape
        (2, 1)
    """
    import keras

    if y is None:  # a stream of batches
        return {"x": x}
    if keras.backend.backend() == "jax" and is_sparse(x):
        return {"x": _in_order()(on_device(x), on_device(y), batch_size=batch_size)}
    return {"x": on_device(x), "y": on_device(y), "batch_size": batch_size}


def evaluate_and_predict(
    model: keras.Model, x: Any, y: np.ndarray | None, *, batch_size: int = 1024
) -> tuple[dict[str, Any], np.ndarray]:
    """``model.evaluate``'s logs on ``x, y`` and ``model.predict``'s scores of ``x``, from the same batches.

    The rows go in order, in batches of :func:`eval_batch_size` rows (at least
    ``batch_size`` where the rows allow), fed as :func:`eval_arguments` feeds them;
    the results do not depend on the batch size. ``y`` is ``None`` for a stream of
    ``(x, y)`` batches.

    Returns:
        The logs (``{"loss": ..., <metric>: ...}``) and the scores, one row per example.

    Examples:
        >>> import keras
        >>> x_test, y_test = np.ones((3, 2), "float32"), np.ones(3, "float32")
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> logs, scores = evaluate_and_predict(model, x_test, y_test)
        >>> sorted(logs), scores.shape
        (['loss'], (3, 1))
    """
    size = batch_size if y is None else eval_batch_size(len(y), batch_size)
    args = eval_arguments(x, y, batch_size=size)
    logs = model.evaluate(**args, verbose=0, return_dict=True)
    scores = model.predict(**{k: v for k, v in args.items() if k != "y"}, verbose=0)
    return logs, scores


def is_numeric(x: Any) -> bool:
    """Whether ``x`` is a non-empty NumPy array of numbers (what JAX takes on its device).

    Examples:
        >>> is_numeric(np.zeros((2, 3))), is_numeric(np.array(["a review"])), is_numeric(np.zeros((0, 3)))
        (True, False, False)
    """
    return isinstance(x, np.ndarray) and x.dtype.kind in "fiub" and len(x) > 0


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a SciPy sparse matrix (the model then takes a sparse input).

    Examples:
        >>> import scipy.sparse as sp
        >>> is_sparse(sp.csr_matrix(np.eye(2))), is_sparse(np.eye(2))
        (True, False)
    """
    if "scipy.sparse" not in sys.modules:  # nothing can be sparse before SciPy's sparse module is loaded
        return False
    import scipy.sparse

    return bool(scipy.sparse.issparse(x))


# Arrays already on the JAX device, by the id of their NumPy source (which the entry keeps alive).
_ON_DEVICE: dict[int, tuple[np.ndarray, Any]] = {}
_ON_DEVICE_MAX = 8


def on_device(x: Any) -> Any:
    """``x`` on the default device, when Keras runs on JAX and ``x`` is numeric or sparse.

    Each NumPy array is copied to the device once per process; the trials of a
    worker all train on the same arrays, so later trials find them there. A
    SciPy sparse matrix goes as its CSR arrays, from which batches are cut on
    the device as ``BCOO`` arrays (see :func:`eval_arguments`).

    Examples:
        >>> x_test = np.ones((2, 3), "float32")
        >>> on_device(x_test) is on_device(x_test)  # copied (on JAX) once, then reused
        True
        >>> on_device(["a review"])  # not numeric: as it is
        ['a review']
    """
    import keras

    if keras.backend.backend() != "jax" or not (is_numeric(x) or is_sparse(x)):
        return x
    import jax

    hit = _ON_DEVICE.get(id(x))
    if hit is not None and hit[0] is x:
        return hit[1]
    if len(_ON_DEVICE) >= _ON_DEVICE_MAX:
        _ON_DEVICE.clear()
    array = _DeviceCSR(x) if is_sparse(x) else jax.device_put(x)
    _ON_DEVICE[id(x)] = (x, array)
    return array


def eval_batch_size(n_rows: int, batch_size: int, *, largest: int = 4096) -> int:
    """A batch size for evaluating ``n_rows`` rows: few steps, and one batch shape where it can.

    The largest divisor of ``n_rows`` from ``batch_size`` to ``largest`` (no
    smaller last batch, so JAX compiles the test step once); otherwise
    ``max(batch_size, 1024)``. Evaluation results do not depend on it.

    Examples:
        >>> eval_batch_size(10000, 128), eval_batch_size(25000, 1024), eval_batch_size(101, 32)
        (2500, 3125, 101)
    """
    for size in range(min(largest, n_rows), batch_size - 1, -1):
        if n_rows % size == 0:
            return size
    return max(batch_size, 1024)


def _gather(x: Any, rows: np.ndarray, *, size: int = 0) -> Any:
    """Rows of ``x``: a compiled gather for JAX arrays (3x faster than indexing them), a ``BCOO`` of
    ``size`` stored values for a sparse matrix on the device, else NumPy indexing."""
    if isinstance(x, np.ndarray):
        return x[rows]
    if isinstance(x, _DeviceCSR):
        return x.rows(rows, size=size)
    return _jax_take()(x, rows)


def padded_size(n: int) -> int:
    """``n`` rounded up to the next quarter power of two (at least 256): at most 19% more.

    Sparse batches on JAX store this many values: the number of stored values is
    part of a compiled shape, so that it takes few values across epochs and trials.

    Examples:
        >>> padded_size(100), padded_size(1000), padded_size(1024), padded_size(1025)
        (256, 1024, 1024, 1218)
    """
    if n <= 256:
        return 256
    step = math.ceil(4 * math.log2(n))
    size = math.ceil(2 ** (step / 4))
    return size if size >= n else math.ceil(2 ** ((step + 1) / 4))


class _DeviceCSR:
    """A CSR matrix whose arrays live on the JAX device, cut into ``BCOO`` batches there (:func:`eval_arguments`).

    Building each batch on the host (SciPy row indexing, index arrays, two copies to
    the device, ``BCOO``'s checks) took about 1.5 ms; here a batch is one compiled
    gather (0.17 ms).

    Examples:
        >>> import scipy.sparse as sp
        >>> x = _DeviceCSR(sp.csr_matrix(np.array([[0, 2, 0], [1, 0, 3]], np.float32)))
        >>> rows = np.array([1, 0])
        >>> x.padded_size([rows]), x.rows(rows, size=256).todense().tolist()
        (256, [[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]])
    """

    def __init__(self, x: Any) -> None:
        import jax

        x = x.tocsr()
        self.shape: tuple[int, int] = x.shape
        self._lengths = np.diff(x.indptr)
        self._arrays = jax.device_put(
            (x.indptr.astype(np.int32), x.indices.astype(np.int32), np.asarray(x.data, np.float32))
        )

    def padded_size(self, batches: Any) -> int:
        """One number of stored values that fits every batch of row numbers in ``batches``.

        One size for all the batches compiles the test step once, not once per
        size (about a second each for a small model on one core), for padding
        that costs less than those compilations.
        """
        return padded_size(max((int(self._lengths[rows].sum()) for rows in batches), default=0))

    def rows(self, rows: np.ndarray, *, size: int) -> Any:
        """Rows ``rows`` as a ``BCOO`` of ``size`` stored values (padded with zeros at (0, 0))."""
        return _csr_take()(*self._arrays, np.asarray(rows, np.int32), size=size, n_columns=self.shape[1])


@functools.cache
def _csr_take() -> Callable[..., Any]:
    import jax
    import jax.experimental.sparse as jsparse
    import jax.numpy as jnp

    def take(indptr: Any, indices: Any, data: Any, rows: Any, *, size: int, n_columns: int) -> Any:
        starts = indptr[rows]
        ends = jnp.cumsum(indptr[rows + 1] - starts)  # where each row's values end in the batch
        # The batch row of each stored value: count the row ends at or before its position.
        row = jnp.cumsum(jnp.zeros(size + 1, jnp.int32).at[ends].add(1))[:size]
        stored = row < rows.shape[0]  # the rest is padding
        row = jnp.where(stored, row, 0)
        position = jnp.arange(size, dtype=jnp.int32)
        begins = jnp.concatenate([jnp.zeros(1, ends.dtype), ends[:-1]])
        source = jnp.where(stored, starts[row] + position - begins[row], 0)
        values = jnp.where(stored, data[source], 0.0)
        columns = jnp.where(stored, indices[source], 0)
        return jsparse.BCOO((values, jnp.stack([row, columns], axis=1)), shape=(rows.shape[0], n_columns))

    return jax.jit(take, static_argnames=("size", "n_columns"))


@functools.cache
def _jax_take() -> Callable[[Any, Any], Any]:
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda x, rows: jnp.take(x, rows, axis=0))


@functools.cache
def _in_order() -> type:
    """The :class:`keras.utils.PyDataset` of :func:`eval_arguments` for sparse inputs on JAX."""
    import keras

    class InOrder(keras.utils.PyDataset):
        """Batches of ``x, y`` in order, ``batch_size`` rows and a smaller last one.

        The batches are the same every epoch, so each is built once (validation
        is evaluated after every epoch, a holdout twice) and kept.
        """

        def __init__(self, x: Any, y: Any, *, batch_size: int) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.x, self.y, self.batch_size = x, y, batch_size
            self._batches: dict[int, tuple[Any, Any]] = {}
            self._size = 0  # one stored size for all sparse batches: one compiled test step
            if isinstance(x, _DeviceCSR):
                self._size = x.padded_size(self._rows(i) for i in range(len(self)))

        def __len__(self) -> int:
            return math.ceil(self.x.shape[0] / self.batch_size)

        def __getitem__(self, index: int) -> tuple[Any, Any]:
            if index not in self._batches:
                rows = self._rows(index)
                self._batches[index] = _gather(self.x, rows, size=self._size), _gather(self.y, rows)
            return self._batches[index]

        def _rows(self, index: int) -> np.ndarray:
            return np.arange(index * self.batch_size, min((index + 1) * self.batch_size, self.x.shape[0]))

    return InOrder
