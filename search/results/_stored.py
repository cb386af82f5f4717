"""Where holdout results and models are kept: study user attributes and file names, per trial."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.data import name_key

if TYPE_CHECKING:
    import optuna

__all__ = [
    "holdout_attr",
    "holdout_headline",
    "holdout_part",
    "model_name",
    "stored_ensembles",
    "stored_holdouts",
    "stored_kinds",
]

HOLDOUT_ATTR = "holdout"


def holdout_part(trial: int | None = None, *, ensemble: int = 1) -> str:
    """What a holdout is of, as a name part: ``""`` (the best trial), ``trial-N`` or ``ensemble-K``.

    Examples:
        >>> holdout_part(), holdout_part(4), holdout_part(ensemble=3)
        ('', 'trial-4', 'ensemble-3')
    """
    return f"ensemble-{ensemble}" if ensemble > 1 else "" if trial is None else f"trial-{trial}"


def holdout_attr(trial: int | None = None, *, ensemble: int = 1) -> str:
    """The study user attribute of a holdout: ``holdout``, ``holdout:N`` (trial N) or ``holdout:ensemble-K``.

    Examples:
        >>> holdout_attr(), holdout_attr(12), holdout_attr(ensemble=5)
        ('holdout', 'holdout:12', 'holdout:ensemble-5')
    """
    if ensemble > 1:
        return f"{HOLDOUT_ATTR}:ensemble-{ensemble}"
    return HOLDOUT_ATTR if trial is None else f"{HOLDOUT_ATTR}:{trial}"


def model_name(study_name: str, trial: int | None = None, *, ensemble: int = 1) -> str:
    """The file stem of a holdout model: the study's key, ``.trial-N`` or ``.ensemble-K`` added.

    Examples:
        >>> model_name("iris", 3) == name_key("iris") + ".trial-3"
        True
    """
    suffix = holdout_part(trial, ensemble=ensemble)
    return name_key(study_name) + (f".{suffix}" if suffix else "")


def stored_ensembles(study: optuna.Study) -> dict[int, dict[str, Any]]:
    """Every stored ensemble holdout by its number of members."""
    prefix = f"{HOLDOUT_ATTR}:ensemble-"
    found = {}
    for key, value in study.user_attrs.items():
        if key.startswith(prefix) and key.removeprefix(prefix).isdigit() and isinstance(value, dict):
            found[int(key.removeprefix(prefix))] = value
    return dict(sorted(found.items()))


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
    # The best trial's own holdout first, so that one of the same trial chosen by number (holdout --trial N,
    # perhaps with --repeats) takes its place.
    for key, value in sorted(study.user_attrs.items(), key=lambda item: item[0] != HOLDOUT_ATTR):
        held = key == HOLDOUT_ATTR or key.startswith(f"{HOLDOUT_ATTR}:")
        if held and isinstance(value, dict) and isinstance(value.get("trial"), int) and "ensemble" not in value:
            found[value["trial"]] = value
    return dict(sorted(found.items()))


def stored_kinds(study: optuna.Study) -> list[tuple[int | None, int]]:
    """The holdouts a study keeps, as ``(trial, ensemble)``: ``(None, 1)`` the best trial's, ``(N, 1)``, ``(None, K)``.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> study.set_user_attr("holdout:ensemble-3", {"trial": 4})
        >>> study.set_user_attr("holdout:2", {"trial": 2})
        >>> stored_kinds(study)
        [(2, 1), (None, 3)]
    """
    kinds: list[tuple[int | None, int]] = []
    for key, value in sorted(study.user_attrs.items()):
        part = key.removeprefix(f"{HOLDOUT_ATTR}:")
        if not isinstance(value, dict):
            continue
        if key == HOLDOUT_ATTR:
            kinds.append((None, 1))
        elif part.isdigit():
            kinds.append((int(part), 1))
        elif part.startswith("ensemble-") and part.removeprefix("ensemble-").isdigit():
            kinds.append((None, int(part.removeprefix("ensemble-"))))
    return sorted(kinds, key=lambda kind: (kind[1], -1 if kind[0] is None else kind[0]))


def holdout_headline(result: dict[str, Any]) -> dict[str, Any] | None:
    """The headline test metric of a holdout result: accuracy for classification, RMSE for regression.

    A repeated holdout adds ``mean``, ``std`` and ``n`` (the number of seeds) of that metric.

    Examples:
        >>> repeats = {"n": 3, "mean": {"accuracy": 0.89}, "std": {"accuracy": 0.01}}
        >>> holdout_headline({"accuracy": 0.9, "repeats": repeats})
        {'metric': 'accuracy', 'value': 0.9, 'mean': 0.89, 'std': 0.01, 'n': 3}
    """
    key = "rmse" if "rmse" in result else "accuracy" if "accuracy" in result else None
    if key is None:
        return None
    headline = {"metric": key, "value": result[key]}
    repeats = result.get("repeats") or {}
    if key in repeats.get("mean", {}):
        headline.update(mean=repeats["mean"][key], std=repeats["std"][key], n=repeats["n"])
    return headline
