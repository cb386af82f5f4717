"""Which trials are best: the ranking by the first objective, the Pareto front, trial counts by state."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = [
    "best_by_group",
    "chosen_trial",
    "count_finished",
    "count_states",
    "is_feasible",
    "objective_names",
    "pareto_front",
    "ranked_trials",
]


def chosen_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The trial a bare ``holdout`` evaluates: the best feasible one, ``None`` before any.

    A single-objective study: ``study.best_trial`` (Optuna leaves out trials that
    break a constraint). A multi-objective one: of the Pareto front of feasible
    trials, the best on the first objective (the lowest number on a tie).

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(directions=["maximize", "minimize"])
        >>> for values in ((0.8, 10), (0.9, 500), (0.85, 5)):
        ...     _ = study.tell(study.ask(), values)
        >>> chosen_trial(study).number, [t.number for t in pareto_front(study)]
        (1, [1, 2])
    """
    if len(study.directions) == 1:
        try:
            return study.best_trial
        except ValueError:  # no complete (or no feasible) trial
            return None
    front = pareto_front(study)
    return front[0] if front else None


def pareto_front(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The feasible complete trials no other one dominates (``study.best_trials``), best first objective first."""
    return sorted(study.best_trials, key=_best_first(study))


def ranked_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The complete, feasible trials with a finite first objective, best first (the lowest number on a tie).

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(direction="maximize")
        >>> for value, size in ((0.8, 10), (0.95, 5000), (0.9, 100), (0.8, 20)):
        ...     trial = study.ask()
        ...     trial.set_constraint("max_params", size - 1000)
        ...     _ = study.tell(trial, value)
        >>> [t.number for t in ranked_trials(study)]  # trial 1 breaks its constraint
        [2, 0, 3]
    """
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    finite = [t for t in done if t.values and math.isfinite(t.values[0])]
    return sorted((t for t in finite if is_feasible(t)), key=_best_first(study))


def is_feasible(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial meets every constraint set on it (Optuna's rule: each value 0 or below)."""
    return all(c <= 0.0 for c in trial.constraints.values())


def _best_first(study: optuna.Study) -> Callable[[optuna.trial.FrozenTrial], tuple[float, int]]:
    """A sort key: the better first objective first, the lower trial number on a tie."""
    sign = -1.0 if study.directions[0].name == "MAXIMIZE" else 1.0
    return lambda t: (sign * t.values[0], t.number)


def objective_names(study: optuna.Study, metric: str) -> list[str]:
    """The names of the study's objectives: those given to Optuna, else ``metric`` alone (older studies)."""
    return study.metric_names or [metric]


def count_states(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state, e.g. ``{"COMPLETE": 3, "RUNNING": 1}``.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study()
        >>> _ = study.tell(study.ask(), 1.0)
        >>> count_states(study), count_finished(study)
        ({'COMPLETE': 1}, 1)
    """
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def count_finished(study: optuna.Study) -> int:
    """Complete and pruned trials: what a study's budget counts."""
    import optuna

    state = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED)))


def best_by_group(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """Best completed trial of each group that the space's ``group`` hook labelled trials with.

    Returns:
        e.g. ``{"frozen embeddings": {"value": ..., "trial": ...}, "fine-tuned embeddings": {...}}``
        for ``spaces.text``, in label order, with only the groups that have a
        completed trial; empty for spaces without the hook.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(direction="maximize")
        >>> for value, group in ((0.8, "a"), (0.9, "a"), (0.7, "b")):
        ...     trial = study.ask()
        ...     trial.set_user_attr("group", group)
        ...     _ = study.tell(trial, value)
        >>> best_by_group(study)
        {'a': {'value': 0.9, 'trial': 1}, 'b': {'value': 0.7, 'trial': 2}}
    """
    sign = 1.0 if study.directions[0].name.lower() == "maximize" else -1.0
    best: dict[str, dict[str, Any]] = {}
    for trial in study.get_trials(deepcopy=False):
        group = trial.user_attrs.get("group")
        if trial.state.name != "COMPLETE" or not isinstance(group, str) or not trial.values or not is_feasible(trial):
            continue
        value = trial.values[0]  # the first objective, for a multi-objective study
        if group not in best or sign * value > sign * best[group]["value"]:
            best[group] = {"value": value, "trial": trial.number}
    return dict(sorted(best.items()))
