"""Search-space modules.

A space module has two plain functions: ``suggest(trial, **bounds) -> config``
samples a JSON-able configuration, and ``build(config, *, input_shape, task)``
returns a compiled ``keras.Model``. Load one by module name with :func:`load_space`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from search._errors import SearchError

__all__ = ["load_space"]


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
