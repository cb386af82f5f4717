"""Measured properties of a trained model: size on disk and inference latency on this machine."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from search.models._training import eval_arguments, is_sparse

__all__ = ["LATENCY_BATCH", "measure_model", "parameter_count"]

LATENCY_BATCH = 1024  # the large batch of ``latency_ms_batch`` (fewer rows when the data has fewer)
_REPEATS = 30  # batch-1 calls timed; the large batch is timed a fifth as often


def parameter_count(model: Any) -> int:
    """The scalars of ``model``'s weights, less its traced hyperparameters (see :class:`search.models.layers.Dropout`).

    What ``model.count_params()`` gives for the same model with its hyperparameters
    constants, as it is saved.

    Examples:
        >>> import keras
        >>> from search.models.layers import Dropout
        >>> inputs = keras.Input((3,))
        >>> model = keras.Model(inputs, keras.layers.Dense(2)(Dropout(0.5, traced=True)(inputs)))
        >>> parameter_count(model), model.count_params()
        (8, 9)
    """
    hyperparameters = {id(v) for layer in _layers(model) for v in getattr(layer, "hyperparameters", ())}
    return sum(int(np.prod(v.shape)) for v in model.weights if id(v) not in hyperparameters)


def _layers(model: Any) -> list[Any]:
    """Every layer of ``model``, those of nested models included."""
    layers = []
    for layer in getattr(model, "layers", []):
        layers += [layer, *_layers(layer)]
    return layers


def measure_model(model: Any, x: Any, *, names: Collection[str]) -> dict[str, Any]:
    """The properties in ``names`` of ``model``, measured on rows of ``x`` (its validation inputs).

    ``params``: parameter count. ``model_mb``: size of the model saved as
    ``.keras``, in MB (10^6 bytes). ``latency_ms``: milliseconds of one
    ``predict_on_batch`` call on one example, the median of 30 after a warm-up
    call (the compile); ``latency_ms_batch``: the same per example of a batch of
    1,024 rows (fewer if ``x`` has fewer), median of 6. Latencies come with
    ``latency_device`` (Keras backend and device) and ``latency_batch``: a
    latency holds for the machine that measured it.

    Raises:
        TypeError: A latency asked for, and ``x`` not rows that can be sliced
            (a stream of batches).

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> measured = measure_model(model, np.ones((5, 3), "float32"), names=["params", "latency_ms"])
        >>> measured["params"], measured["latency_ms"] > 0, measured["latency_batch"]
        (8, True, 5)
    """
    measured: dict[str, Any] = {}
    if "params" in names:
        measured["params"] = parameter_count(model)
    if "model_mb" in names:
        with tempfile.TemporaryDirectory(prefix="search-size-") as folder:
            path = Path(folder) / "model.keras"
            model.save(path)
            measured["model_mb"] = path.stat().st_size / 1e6
    if "latency_ms" in names or "latency_ms_batch" in names:
        if not hasattr(x, "shape") and not isinstance(x, list | tuple | dict):
            raise TypeError("a latency is measured on validation rows, not on a stream of batches")
        rows = _rows(x)
        large = min(LATENCY_BATCH, rows)
        measured["latency_ms"] = _median_ms(model, _batch(x, 1), _REPEATS)
        measured["latency_ms_batch"] = _median_ms(model, _batch(x, large), max(3, _REPEATS // 5)) / large
        measured["latency_batch"] = large
        measured["latency_device"] = _device()
    return measured


def _rows(x: Any) -> int:
    if isinstance(x, dict):
        return _rows(next(iter(x.values())))
    if isinstance(x, list | tuple) and x and hasattr(x[0], "shape"):
        return _rows(x[0])
    return int(x.shape[0]) if hasattr(x, "shape") else len(x)


def _batch(x: Any, n: int) -> Any:
    """The first ``n`` rows of ``x`` as ``predict_on_batch`` takes them (sparse: the backend's sparse tensor)."""
    import keras

    if isinstance(x, dict):
        return {k: _batch(v, n) for k, v in x.items()}
    if isinstance(x, list | tuple) and x and hasattr(x[0], "shape"):
        return [_batch(v, n) for v in x]
    if not is_sparse(x):
        return x[:n]
    if keras.backend.backend() == "jax":
        batches = eval_arguments(x, np.zeros(_rows(x), "float32"), batch_size=n)["x"]
        return batches[0][0]
    import tensorflow as tf

    coo = x[:n].tocoo()
    indices = np.stack([coo.row, coo.col], axis=1).astype("int64")
    return tf.sparse.reorder(tf.SparseTensor(indices, coo.data.astype("float32"), coo.shape))


def _median_ms(model: Any, batch: Any, repeats: int) -> float:
    model.predict_on_batch(batch)  # the warm-up: compiles the predict step for this shape
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(model.predict_on_batch(batch))  # waits for the result
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def _device() -> str:
    """``"<backend> <device>"``, e.g. ``"jax cpu"`` or ``"tensorflow GPU:0"``."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return f"jax {jax.devices()[0].device_kind}"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return f"tensorflow {'GPU:0' if gpus else 'CPU'}"
    return backend
