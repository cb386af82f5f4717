"""Model building: what spaces build with (bounds, layers, text embeddings), the space contract, training.

The Keras layers (:mod:`search.models.layers`, :class:`HubTextEmbedding`) and
:func:`load_model`, :func:`save_model` import Keras, so they load on first use:
``import search.models`` stays fast.

Examples:
    >>> from search.models import check_bounds
    >>> check_bounds({"units": [8, 64]}, {"units": [16, 32]}).int_range("units")
    (16, 32)
"""

from __future__ import annotations

import importlib
from typing import Any

from search.models._build import Limit, check_bounds, compile_for_task, output_layer
from search.models._compile import compiling
from search.models._embeddings import (
    DEFAULT_TEXT_HANDLE,
    export_text_embedding,
    load_text_module,
    pretrain_text_embedding,
)
from search.models._epochs import train
from search.models._measure import measure_model, parameter_count
from search.models._space import LoadedSpace, Space, load_space
from search.models._training import (
    epoch_recorder,
    evaluate_and_predict,
    free_memory,
    freeze_long_lived,
    set_seed,
    use_backend,
)

__all__ = [
    "DEFAULT_TEXT_HANDLE",
    "HubTextEmbedding",
    "Limit",
    "LoadedSpace",
    "Space",
    "check_bounds",
    "compile_for_task",
    "compiling",
    "epoch_recorder",
    "evaluate_and_predict",
    "export_text_embedding",
    "free_memory",
    "freeze_long_lived",
    "load_model",
    "load_space",
    "load_text_module",
    "measure_model",
    "output_layer",
    "parameter_count",
    "pretrain_text_embedding",
    "save_model",
    "set_seed",
    "train",
    "use_backend",
]

# Names whose modules import Keras at module level, loaded on first access.
_KERAS_NAMES = {
    "GlorotUniform": "search.models._layers",
    "HubTextEmbedding": "search.models._hub",
    "InputDropout": "search.models._layers",
    "load_model": "search.models._layers",
    "save_model": "search.models._layers",
}


def __getattr__(name: str) -> Any:
    if name in _KERAS_NAMES:
        return getattr(importlib.import_module(_KERAS_NAMES[name]), name)
    raise AttributeError(f"module 'search.models' has no attribute {name!r}")
