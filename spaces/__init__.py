"""Search-space modules.

A space module has two plain functions: ``suggest(trial, **bounds) -> config``
samples a JSON-able configuration, and ``build(config, *, input_shape, task)``
returns a compiled ``keras.Model``. Load one by module name with :func:`load_space`.

Optional: ``check(**bounds)`` verifies the bounds before a study is written,
``check_data(x_train, **bounds)`` checks them against the loaded data, and
``features(config, fit_rows, *other_rows)`` turns the loader's rows into model
inputs when the configuration chooses the representation (``spaces.bow``); it
learns what it needs from ``fit_rows`` only.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from search._errors import SearchError

__all__ = ["load_space", "space_features"]


def load_space(module: str) -> ModuleType:
    """Import a space module and check that it has ``suggest`` and ``build``.

    Example:
        >>> load_space("spaces.mlp").__name__
        'spaces.mlp'
    """
    try:
        space = importlib.import_module(module)
    except ImportError:
        raise SearchError(f"unknown space module {module!r}") from None
    for name in ("suggest", "build"):
        if not callable(getattr(space, name, None)):
            raise SearchError(f"space module {module!r} has no function {name}()")
    return space


def space_features(space: ModuleType, config: dict[str, Any], fit_rows: Any, *other_rows: Any) -> tuple[Any, ...]:
    """The model inputs of ``config``: the space's ``features``, or the rows as they are.

    Example:
        >>> space_features(load_space("spaces.mlp"), {}, [[0.0]], [[1.0]])
        ([[0.0]], [[1.0]])
    """
    features = getattr(space, "features", None)
    if not callable(features):
        return (fit_rows, *other_rows)
    return tuple(features(config, fit_rows, *other_rows))
