"""Plain-text reports of studies and holdout results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.engine import (
    best_by_group,
    chosen_trial,
    closes_storages,
    count_states,
    holdout_epochs,
    is_feasible,
    objective_names,
    open_storage,
    pareto_front,
    resolve_storage,
)
from search.results._stored import holdout_headline, stored_ensembles, stored_holdouts

if TYPE_CHECKING:
    import optuna

__all__ = ["format_headline", "format_holdout", "format_value", "list_studies", "study_summary"]

_LABEL = 28  # width of the label column of a holdout report ("precision (positive class)" and a space)


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
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
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
    holdout = study.user_attrs.get("holdout") or {}
    summary["holdout_accuracy"] = holdout.get("accuracy")
    headline = holdout_headline(holdout)
    summary["holdout_metric"] = headline["metric"] if headline else None
    summary["holdout_value"] = headline["value"] if headline else None
    summary["holdout"] = headline
    return summary


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
    import optuna

    storage_obj = open_storage(resolve_storage(storage), must_exist=True)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False)]
    return [study_summary(optuna.load_study(study_name=name, storage=storage_obj)) for name in names]


def format_holdout(name: str, result: dict[str, Any]) -> str:
    """A human-readable holdout report for any task.

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
    task = result.get("task")
    which = "best trial" if result.get("chosen") is not True else "trial"
    ensemble = result.get("ensemble") or {}
    if ensemble:
        which = f"ensemble of {ensemble['k']}, best trial"
    lines = [
        f"Holdout evaluation of study {name!r} ({task + '; ' if task else ''}{which} {result.get('trial')}, "
        f"{_epochs(result)}{', stored result' if result.get('cached') else ''})"
    ]
    if result.get("n_train") is not None:
        lines.append(f"  trained on {result['n_train']} examples, tested once on {result.get('n_test')}")
    averaged = " (positive class)" if task == "binary" else " (macro)" if task == "multiclass" else ""
    labels = {"precision": f"precision{averaged}", "recall": f"recall{averaged}", "f1": f"f1{averaged}"}
    labels["validation_value"] = f"validation {result['metric']}" if result.get("metric") else "validation_value"
    for key in ("accuracy", "precision", "recall", "f1", "rmse", "mae", "r2", "loss", "validation_value"):
        if isinstance(result.get(key), int | float):
            lines.append(f"  {labels.get(key, key):<{_LABEL}}{result[key]:.4f}")
    if ensemble:
        lines.append(f"  the average of {ensemble['k']} retrained models; each member alone:")
        for m in ensemble["members"]:
            shown = ", ".join(f"{k} {m[k]:.4f}" for k in ("accuracy", "rmse", "loss") if k in m)
            lines.append(f"    trial {m['trial']:<6} {_epochs(m):>11}  {shown}")
    repeats = result.get("repeats")
    if repeats:
        lines.append(f"  over {repeats['n']} seeds {repeats['seeds']} (mean ± standard deviation)")
        for key, mean in repeats["mean"].items():
            lines.append(f"    {key:<{_LABEL - 2}}{mean:.4f} ± {repeats['std'][key]:.4f}")
    per_class = result.get("per_class")
    if per_class:
        width = max(8, *(len(n) + 1 for n in per_class))
        lines.append("  per class")
        lines.append("  " + " " * width + "".join(f"{h:>11}" for h in ("precision", "recall", "f1", "support")))
        for label, row in per_class.items():
            values = [f"{row.get(k, 0.0):>11.4f}" for k in ("precision", "recall", "f1-score")]
            lines.append("  " + f"{label:>{width}}" + "".join(values) + f"{int(row.get('support', 0)):>11}")
    matrix = result.get("confusion_matrix")
    if matrix:
        names = result.get("class_names") or [str(i) for i in range(len(matrix))]
        width = max(8, *(len(n) + 1 for n in names))
        lines.append("  confusion matrix (rows: true, columns: predicted)")
        lines.append("  " + " " * width + "".join(f"{n:>{width}}" for n in names))
        for label, row in zip(names, matrix, strict=True):
            lines.append("  " + f"{label:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    objectives = result.get("values")
    if isinstance(objectives, dict) and len(objectives) > 1:  # a multi-objective trial: its place on the front
        shown = ", ".join(f"{k} {format_value(v)}" for k, v in objectives.items())
        lines.append(f"  {'objectives (validation)':<{_LABEL}}{shown}")
    if result.get("feasible") is False:
        lines.append(f"  {'constraints':<{_LABEL}}broken: this trial is infeasible")
    if result.get("model_path"):
        lines.append(f"  {'model':<{_LABEL}}{result['model_path']}")
    if result.get("preprocessing_path"):
        lines.append(f"  {'preprocessing':<{_LABEL}}{result['preprocessing_path']}")
    return "\n".join(lines)


def format_value(value: float | None) -> str:
    """A value as a table shows it: whole numbers as such, others to four decimals, ``-`` for none.

    Examples:
        >>> format_value(10001.0), format_value(0.88123), format_value(None)
        ('10,001', '0.8812', '-')
    """
    if value is None:
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"


def _epochs(result: dict[str, Any]) -> str:
    """The epochs a holdout model (or member) trained: ``41 epochs``, or its fold models' ``epochs 30/41/...``.

    Examples:
        >>> _epochs({"epochs": 41}), _epochs({"fold_epochs": [30, 41]})
        ('41 epochs', 'epochs 30/41')
    """
    shown = holdout_epochs(result)
    return f"epochs {shown}" if result.get("fold_epochs") else f"{shown} epochs"
