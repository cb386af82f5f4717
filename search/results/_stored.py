"""What a holdout leaves, typed (:class:`HoldoutResult`), and where: study user attributes and file names.

Every holdout result is written with :func:`write_holdout` and read back with
:func:`read_holdout` (or the listings built on it), validated the same way by
every process that reads it: a record edited in the database is one
:class:`search.InputError` line, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from search.data import name_key
from search.errors import InputError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HoldoutResult",
    "holdout_attr",
    "holdout_headline",
    "holdout_part",
    "model_name",
    "objective_names",
    "read_holdout",
    "stored_ensembles",
    "stored_holdouts",
    "stored_kinds",
    "write_holdout",
]

HOLDOUT_ATTR = "holdout"


class Repeats(BaseModel):
    """A holdout retrained with several seeds: each scalar metric's values, mean and standard deviation."""

    model_config = ConfigDict(extra="allow", frozen=True)

    n: int
    seeds: list[int]
    values: dict[str, list[float]]
    mean: dict[str, float]
    std: dict[str, float]


class Ensemble(BaseModel):
    """An ensemble holdout: its members (each trial's own test metrics) and which inputs each reads."""

    model_config = ConfigDict(extra="allow", frozen=True)

    k: int
    trials: list[int]
    members: list[dict[str, Any]]
    inputs: list[list[int]] = []


class HoldoutResult(BaseModel):
    """What one holdout evaluation leaves: metrics on the test split, how the model trained, its files.

    A single model's (the best trial's, or ``--trial N``'s, ``chosen``), one
    retrained with several seeds (``repeats``), or an ensemble of the best
    trials (``ensemble``). Keys of other versions are kept as they are.

    Examples:
        >>> HoldoutResult.model_validate({"task": "binary", "accuracy": 0.9, "trial": 2}).accuracy
        0.9
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    task: str | None = None
    metric: str | None = None
    trial: int | None = None
    validation_value: float | None = None
    values: dict[str, float] | None = None
    feasible: bool | None = None
    chosen: bool | None = None
    epochs: int | None = None
    fold_epochs: list[int] | None = None
    n_train: int | None = None
    n_test: int | None = None
    train_time_s: float | None = None
    computed_at: str | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    rmse: float | None = None
    mae: float | None = None
    r2: float | None = None
    loss: float | None = None
    per_class: dict[str, dict[str, float]] | None = None
    confusion_matrix: list[list[int]] | None = None
    class_names: list[str] = []
    repeats: Repeats | None = None
    ensemble: Ensemble | None = None
    model_path: str | None = None
    artifact_id: str | None = None
    model_sha256: str | None = None
    preprocessing_path: str | None = None
    preprocessing_sha256: str | None = None
    preprocessing_signature: str | None = None
    preprocessing_artifact_id: str | None = None
    confusion_matrix_png: str | None = None
    confusion_matrix_artifact_id: str | None = None
    cached: bool = False  # returned from the study instead of computed (never stored)

    def stored(self) -> dict[str, Any]:
        """The JSON form kept on the study (and returned by :func:`search.evaluate_holdout`)."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={"cached"})

    def returned(self) -> dict[str, Any]:
        """What :func:`search.evaluate_holdout` returns: the stored form, ``cached`` when it was."""
        return {**self.stored(), **({"cached": True} if self.cached else {})}


def objective_names(study: optuna.Study, metric: str) -> list[str]:
    """The names of a study's objectives: those given to Optuna, else ``metric`` alone (older studies).

    Examples:
        >>> import optuna
        >>> objective_names(optuna.create_study(), "val_loss")
        ['val_loss']
    """
    return list(study.metric_names or [metric])


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


def _parsed(key: str, value: Any, study: str) -> HoldoutResult:
    try:
        return HoldoutResult.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the record"
        raise InputError(
            f"study {study!r} keeps a holdout record ({key}) this tool cannot read: {where!r} "
            f"{first['msg'].lower().replace('input should be', 'must be')}, got {first['input']!r}"
        ) from None


def read_holdout(study: optuna.Study, trial: int | None = None, *, ensemble: int = 1) -> HoldoutResult | None:
    """The stored holdout of the best trial, of trial ``trial``, or of an ensemble of ``ensemble``; ``None`` if none.

    Raises:
        search.InputError: A stored record of the wrong form (edited in the database).

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(study_name="demo")
        >>> read_holdout(study) is None
        True
        >>> study.set_user_attr("holdout", {"trial": "first"})
        >>> read_holdout(study)
        Traceback (most recent call last):
        ...
        search.errors.InputError: study 'demo' keeps a holdout record (holdout) this tool cannot read: 'trial' ...
    """
    key = holdout_attr(trial, ensemble=ensemble)
    value = study.user_attrs.get(key)
    return None if not value else _parsed(key, value, study.study_name)


def write_holdout(study: optuna.Study, result: HoldoutResult, trial: int | None = None, *, ensemble: int = 1) -> None:
    """Keep a holdout result on the study, under the attribute of its kind (see :func:`holdout_attr`)."""
    study.set_user_attr(holdout_attr(trial, ensemble=ensemble), result.stored())


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


def stored_ensembles(study: optuna.Study) -> dict[int, HoldoutResult]:
    """Every stored ensemble holdout by its number of members."""
    found = {}
    for trial, k in stored_kinds(study):
        if k > 1 and trial is None:
            held = read_holdout(study, ensemble=k)
            if held is not None:
                found[k] = held
    return found


def stored_holdouts(study: optuna.Study) -> dict[int, HoldoutResult]:
    """Every stored single-model holdout by trial number: the best trial's and those of chosen trials.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> study.set_user_attr("holdout", {"trial": 4, "accuracy": 0.9})
        >>> study.set_user_attr("holdout:2", {"trial": 2, "accuracy": 0.8})
        >>> sorted(stored_holdouts(study))
        [2, 4]
    """
    found: dict[int, HoldoutResult] = {}
    # The best trial's own holdout first, so that one of the same trial chosen by number (holdout --trial N,
    # perhaps with --repeats) takes its place.
    for trial, k in sorted(stored_kinds(study), key=lambda kind: kind[0] is not None):
        if k > 1:
            continue
        held = read_holdout(study, trial)
        if held is not None and held.trial is not None and held.ensemble is None:
            found[held.trial] = held
    return dict(sorted(found.items()))


def holdout_headline(result: HoldoutResult | None) -> dict[str, Any] | None:
    """The headline test metric of a holdout result: accuracy for classification, RMSE for regression.

    A repeated holdout adds ``mean``, ``std`` and ``n`` (the number of seeds) of that metric.

    Examples:
        >>> repeats = {"n": 3, "seeds": [1, 2, 3], "values": {}, "mean": {"accuracy": 0.89}, "std": {"accuracy": 0.01}}
        >>> holdout_headline(HoldoutResult.model_validate({"accuracy": 0.9, "repeats": repeats}))
        {'metric': 'accuracy', 'value': 0.9, 'mean': 0.89, 'std': 0.01, 'n': 3}
    """
    if result is None:
        return None
    key = "rmse" if result.rmse is not None else "accuracy" if result.accuracy is not None else None
    if key is None:
        return None
    headline: dict[str, Any] = {"metric": key, "value": getattr(result, key)}
    if result.repeats and key in result.repeats.mean:
        headline.update(mean=result.repeats.mean[key], std=result.repeats.std[key], n=result.repeats.n)
    return headline
