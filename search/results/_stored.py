"""Where holdout results and models are kept: study user attributes and file names, per trial."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.data import name_key

if TYPE_CHECKING:
    import optuna

__all__ = ["holdout_attr", "model_name", "stored_holdouts"]

HOLDOUT_ATTR = "holdout"


def holdout_attr(trial: int | None = None) -> str:
    """The study user attribute of a holdout: ``holdout`` for the best trial's, ``holdout:N`` for trial N's.

    Examples:
        >>> holdout_attr(), holdout_attr(12)
        ('holdout', 'holdout:12')
    """
    return HOLDOUT_ATTR if trial is None else f"{HOLDOUT_ATTR}:{trial}"


def model_name(study_name: str, trial: int | None = None) -> str:
    """The file stem of a holdout model: the study's key, ``.trial-N`` added for a chosen trial.

    Examples:
        >>> model_name("iris", 3) == name_key("iris") + ".trial-3"
        True
    """
    return name_key(study_name) + ("" if trial is None else f".trial-{trial}")


def stored_holdouts(study: optuna.Study) -> dict[int, dict[str, Any]]:
    """Every stored holdout result by trial number: the best trial's and those of chosen trials.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> study.set_user_attr("holdout", {"trial": 4, "accuracy": 0.9})
        >>> study.set_user_attr("holdout:2", {"trial": 2, "accuracy": 0.8})
        >>> sorted(stored_holdouts(study))
        [2, 4]
    """
    found: dict[int, dict[str, Any]] = {}
    for key, value in study.user_attrs.items():
        held = key == HOLDOUT_ATTR or key.startswith(f"{HOLDOUT_ATTR}:")
        if held and isinstance(value, dict) and isinstance(value.get("trial"), int):
            found.setdefault(value["trial"], value)
    return dict(sorted(found.items()))
