"""Plain-text reports of studies and holdout results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.engine import (
    TrialOutcome,
    best_by_group,
    chosen_trial,
    closes_storages,
    count_states,
    is_feasible,
    open_all,
    pareto_front,
)
from search.results._stored import (
    HoldoutResult,
    holdout_headline,
    objective_names,
    read_holdout,
    stored_ensembles,
    stored_holdouts,
)
from search.results._view import HoldoutView, format_value

if TYPE_CHECKING:
    import optuna

__all__ = ["format_headline", "format_holdout", "format_value", "list_studies", "study_summary"]


def study_summary(study: optuna.Study) -> dict[str, Any]:
    """A JSON-able summary: trial counts by state, best trial, Pareto front and stored holdouts.

    ``holdout_metric`` and ``holdout_value`` give the headline test result of
    the best trial's holdout: ``accuracy`` for classification, ``rmse`` for
    regression (``holdout_accuracy`` is kept for classification); ``holdouts``
    has the headline of every trial evaluated (``holdout --trial N`` included).
    The best trial is :func:`search.engine.chosen_trial`'s (feasible; of a
    multi-objective study, the front's best on the first objective) and
    ``best_value`` its first objective. A multi-objective study also gets
    ``pareto_front``: each front trial's number, objective values by name,
    parameter count and holdout headline, best first objective first. A
    cross-validated study (``cv`` folds) gets ``best_folds``: the best trial's
    metric on each fold, whose mean is ``best_value``.

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(study_name="demo", direction="maximize")
        >>> for value in (0.8, 0.9):
        ...     _ = study.tell(study.ask(), value)
        >>> summary = study_summary(study)
        >>> summary["n_complete"], summary["best_value"], summary["best_trial"], summary["holdout_value"]
        (2, 0.9, 1, None)
        >>> study = optuna.create_study(study_name="sizes", directions=["maximize", "minimize"])
        >>> study.set_metric_names(["val_accuracy", "params"])
        >>> for values in ((0.8, 10), (0.9, 500), (0.7, 50)):
        ...     _ = study.tell(study.ask(), values)
        >>> [(t["trial"], t["values"]) for t in study_summary(study)["pareto_front"]]
        [(1, {'val_accuracy': 0.9, 'params': 500.0}), (0, {'val_accuracy': 0.8, 'params': 10.0})]
    """
    counts = count_states(study)
    directions = [d.name.lower() for d in study.directions]
    config = study.user_attrs.get("config")
    metric = config.get("metric") if isinstance(config, dict) else None
    names = objective_names(study, metric or "value")
    summary: dict[str, Any] = {
        "study": study.study_name,
        "direction": directions[0],
        "directions": directions,
        "objectives": names,
        "n_trials": sum(counts.values()),
        "n_complete": counts.get("COMPLETE", 0),
        "n_pruned": counts.get("PRUNED", 0),
        "n_failed": counts.get("FAIL", 0),
        "n_running": counts.get("RUNNING", 0),
        "n_finished": counts.get("COMPLETE", 0) + counts.get("PRUNED", 0),
        "best_value": None,
        "best_trial": None,
        "best_params": None,
        "best_config": None,
    }
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if any(t.constraints for t in complete):
        summary["n_infeasible"] = sum(not is_feasible(t) for t in complete)
    best = chosen_trial(study)
    if best is not None:
        summary.update(
            best_value=best.values[0],
            best_trial=best.number,
            best_params=best.params,
            best_config=best.user_attrs.get("config"),
            best_epoch=best.user_attrs.get("best_epoch"),
        )
        folds = best.user_attrs.get("folds") or []
        if folds and metric:  # cross-validated: the best value is the mean of these
            summary["best_folds"] = [f["values"].get(metric) for f in folds]
    groups = best_by_group(study)
    if groups:
        summary["best_by_group"] = groups
    summary["metric"] = metric
    summary["cv"] = int(config.get("cv") or 1) if isinstance(config, dict) else 1
    holdouts = {number: holdout_headline(result) for number, result in stored_holdouts(study).items()}
    summary["holdouts"] = {str(number): headline for number, headline in holdouts.items()}
    summary["ensembles"] = {str(k): holdout_headline(result) for k, result in stored_ensembles(study).items()}
    if len(directions) > 1:
        summary["pareto_front"] = [
            {
                "trial": t.number,
                "values": dict(zip(names, t.values, strict=False)),
                "params": t.user_attrs.get("n_params"),
                "holdout": holdouts.get(t.number),
            }
            for t in pareto_front(study)
        ]
    compiling = _compilation([t for t in trials if t.state.is_finished()])
    if compiling:
        summary["compilation"] = compiling
    holdout = read_holdout(study)
    summary["holdout_accuracy"] = holdout.accuracy if holdout is not None else None
    headline = holdout_headline(holdout)
    summary["holdout_metric"] = headline["metric"] if headline else None
    summary["holdout_value"] = headline["value"] if headline else None
    summary["holdout"] = headline
    return summary


def _compilation(trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any] | None:
    """Training and compiling seconds and the compilation cache's hits and misses, summed over the trials that say.

    ``None`` when no trial recorded them (TensorFlow trials, or trials of an older version).
    """
    outcomes = [TrialOutcome.of(t) for t in trials]
    outcomes = [o for o in outcomes if o.seconds_compiling is not None]
    if not outcomes:
        return None
    return {
        "trials": len(outcomes),
        "seconds_training": round(sum(o.seconds_training or 0.0 for o in outcomes), 1),
        "seconds_compiling": round(sum(o.seconds_compiling or 0.0 for o in outcomes), 1),
        "cache_hits": sum(o.compile_cache_hits or 0 for o in outcomes),
        "cache_misses": sum(o.compile_cache_misses or 0 for o in outcomes),
    }


def format_headline(headline: dict[str, Any] | None) -> str:
    """A holdout headline as ``list`` shows it.

    Examples:
        >>> format_headline({"metric": "accuracy", "value": 0.9, "mean": 0.89, "std": 0.01, "n": 3})
        'accuracy 0.9000 (0.8900 ± 0.0100 over 3 seeds)'
        >>> format_headline(None)
        '-'
    """
    if not headline:
        return "-"
    text = f"{headline['metric']} {headline['value']:.4f}"
    if "mean" in headline:
        text += f" ({headline['mean']:.4f} ± {headline['std']:.4f} over {headline['n']} seeds)"
    return text


@closes_storages
def list_studies(storage: str | None = None) -> list[dict[str, Any]]:
    """Summaries of every study in a storage (see :func:`study_summary`).

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> for name in ("iris", "auto-mpg"):
        ...     _ = optuna.create_study(study_name=name, storage=url)
        >>> [s["study"] for s in list_studies(url)]
        ['iris', 'auto-mpg']
    """
    return [study_summary(opened.study) for opened in open_all(storage)]


def format_holdout(name: str, result: dict[str, Any] | HoldoutResult) -> str:
    """A human-readable holdout report for any task (see :meth:`search.results._view.HoldoutView.text`).

    Regression: RMSE, MAE and R². Classification: accuracy, precision, recall and
    F1 (of the positive class for binary tasks, macro-averaged otherwise), each
    class's precision, recall, F1 and support, and the confusion matrix.

    Examples:
        >>> print(format_holdout("auto-mpg", {"task": "regression", "rmse": 2.61, "mae": 1.9, "r2": 0.88}))
        Holdout evaluation of study 'auto-mpg' (regression; best trial None, None epochs)
          rmse                     2.6100
          mae                      1.9000
          r2                       0.8800
    """
    held = result if isinstance(result, HoldoutResult) else HoldoutResult.model_validate(result)
    return HoldoutView(held).text(name)
