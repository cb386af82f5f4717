"""A study's sampler and pruner, made from the names and options of its definition."""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

from search.engine._config import StudyConfig
from search.errors import InputError

if TYPE_CHECKING:
    import optuna

__all__ = ["make_pruner", "make_sampler"]


def make_sampler(config: StudyConfig, *, offset: int = 0) -> optuna.samplers.BaseSampler:
    """The study's sampler, seeded with ``config.seed + offset``.

    Resuming a study with ``n`` trials uses ``offset=n``, so a resumed run is as
    reproducible as a fresh one.

    Examples:
        >>> from search.engine import load_study_config
        >>> make_sampler(load_study_config("imdb-bow")).__class__.__name__
        'TPESampler'
    """
    import optuna

    return _make(
        "sampler", config.sampler, optuna.samplers, optuna.samplers.BaseSampler, seed=(config.seed + offset) % 2**32
    )


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    """The study's pruner (``NopPruner`` disables pruning).

    Examples:
        >>> from search.engine import load_study_config
        >>> make_pruner(load_study_config("imdb-bow")).__class__.__name__
        'HyperbandPruner'
    """
    import optuna

    if config.multi_objective:  # Optuna's pruners rank one value; see StudyConfig.objectives
        return optuna.pruners.NopPruner()
    return _make("pruner", config.pruner, optuna.pruners, optuna.pruners.BasePruner)


def _make(kind: str, table: dict[str, Any], module: ModuleType, base: type, **extra: Any) -> Any:
    """An instance of the class that ``table["name"]`` names in ``module``, with the table's other keys as options."""
    import optuna

    name = table["name"]
    cls = getattr(module, name, None) if name in getattr(module, "__all__", ()) else None
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise InputError(f"unknown {kind} {name!r} (an {module.__name__} class name)")
    options = {k: v for k, v in table.items() if k != "name"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**extra, **options)
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid options for {kind} {name}: {' '.join(str(exc).split())}") from None
