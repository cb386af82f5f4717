"""Model building: what spaces build with (bounds, layers, text embeddings), the space contract, the training feed.

The Keras layers (:class:`InputDropout`, :class:`SparseDropout`,
:class:`HubTextEmbedding`) and :func:`load_model` import Keras, so they load on
first use: ``import search.models`` stays fast.

Examples:
    >>> from search.models import check_bounds
    >>> check_bounds({"units": [8, 64]}, {"units": [16, 32]}).int_range("units")
    (16, 32)
"""

from __future__ import annotations

import importlib
from typing import Any

from search.models._build import Bounds, Limit, check_bounds, compile_for_task, output_layer
from search.models._embeddings import (
    DEFAULT_TEXT_HANDLE,
    TextModule,
    export_text_embedding,
    import_hub,
    load_text_module,
    pretrain_imdb_vectors,
    pretrain_text_embedding,
    read_word_vectors,
    resolve_text_handle,
    tokenize,
)
from search.models._epochs import compiled_epochs, train
from search.models._function import DEFAULT_BATCH_SIZE, FunctionSpace
from search.models._measure import LATENCY_BATCH, measure_model
from search.models._space import LoadedSpace, Space, SpaceHooks, load_space
from search.models._training import (
    best_epoch,
    configure_backend,
    epoch_recorder,
    eval_arguments,
    eval_batch_size,
    example_shape,
    fit_arguments,
    free_memory,
    freeze_long_lived,
    is_sparse,
    set_seed,
    use_backend,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_TEXT_HANDLE",
    "LATENCY_BATCH",
    "Bounds",
    "FunctionSpace",
    "GlorotUniform",
    "HubTextEmbedding",
    "InputDropout",
    "Limit",
    "LoadedSpace",
    "ScaledDense",
    "Space",
    "SpaceHooks",
    "SparseDropout",
    "TextModule",
    "best_epoch",
    "check_bounds",
    "compile_for_task",
    "compiled_epochs",
    "configure_backend",
    "epoch_recorder",
    "eval_arguments",
    "eval_batch_size",
    "example_shape",
    "export_text_embedding",
    "fit_arguments",
    "free_memory",
    "freeze_long_lived",
    "import_hub",
    "is_sparse",
    "load_model",
    "load_space",
    "load_text_module",
    "measure_model",
    "output_layer",
    "pretrain_imdb_vectors",
    "pretrain_text_embedding",
    "read_word_vectors",
    "resolve_text_handle",
    "save_model",
    "set_seed",
    "tokenize",
    "train",
    "use_backend",
]

# Names whose modules import Keras at module level, loaded on first access.
_KERAS_NAMES = {
    "GlorotUniform": "search.models._layers",
    "HubTextEmbedding": "search.models._hub",
    "InputDropout": "search.models._layers",
    "ScaledDense": "search.models._layers",
    "SparseDropout": "search.models._layers",
    "load_model": "search.models._layers",
    "save_model": "search.models._layers",
}


def __getattr__(name: str) -> Any:
    if name in _KERAS_NAMES:
        return getattr(importlib.import_module(_KERAS_NAMES[name]), name)
    raise AttributeError(f"module 'search.models' has no attribute {name!r}")
