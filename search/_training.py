"""Keras training helpers shared by the objective and the holdout evaluation."""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

__all__ = ["best_epoch", "configure_backend", "epoch_recorder", "free_memory", "set_seed"]


def configure_backend() -> None:
    """Settings that must be made before TensorFlow or JAX starts (user values win).

    Quiet TensorFlow start-up logs; let GPU memory grow on demand instead of being
    taken whole by the first process, so several trials or workers share one GPU.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend for one training run."""
    import keras

    keras.utils.set_random_seed(seed)


def free_memory() -> None:
    """Drop Keras' global state and collect garbage between trials."""
    import keras

    keras.backend.clear_session()
    gc.collect()


def best_epoch(values: list[float], direction: str) -> int:
    """Index of the first best finite value, as ``EarlyStopping`` picks it.

    Example:
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

    Args:
        on_epoch: Optional ``f(epoch, history)`` called after every epoch.

    Example:
        >>> recorder = epoch_recorder()  # doctest: +SKIP
        >>> model.fit(x, y, epochs=3, callbacks=[recorder])  # doctest: +SKIP
        >>> len(recorder.history["loss"])  # doctest: +SKIP
        3
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

    return _Recorder()
