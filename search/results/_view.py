"""One view of a holdout result, rendered three ways: the terminal's text, optuna-dashboard's Markdown, the HTML report.

:class:`HoldoutView` decides once what a holdout shows (its metrics with their
labels and spread over seeds, the per-class table, the confusion matrix, the
members of an ensemble, how the model was trained); the three renderers only lay
it out, so that they never disagree on a label, a number or a format.
"""

from __future__ import annotations

import dataclasses
import html
import math
from pathlib import Path
from typing import Any

from search.engine import format_number
from search.results._stored import HoldoutResult

__all__ = ["HoldoutView", "format_value", "four", "holdout_epochs", "holdout_training"]

# Each scalar metric in the order it is shown: its key (the terminal's label) and its label on pages.
_METRICS = (
    ("accuracy", "accuracy"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("f1", "F1"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
    ("r2", "R²"),
    ("loss", "loss"),
)
_LABEL = 28  # width of the terminal's label column ("precision (positive class)" and a space)


def holdout_epochs(result: HoldoutResult | dict[str, Any]) -> str:
    """The epochs a holdout's model (or an ensemble member) trained: ``41``, or its fold models' ``30/41``.

    Examples:
        >>> holdout_epochs({"epochs": 41}), holdout_epochs({"fold_epochs": [30, 41]})
        ('41', '30/41')
    """
    values = result if isinstance(result, dict) else result.model_dump()
    folds = values.get("fold_epochs")
    return "/".join(str(e) for e in folds) if folds else str(values.get("epochs"))


def holdout_training(result: HoldoutResult | dict[str, Any]) -> str:
    """How a holdout's model (or an ensemble member, ``result``) was trained, in words.

    Examples:
        >>> holdout_training({"n_train": 318, "epochs": 41})
        'retrained on all 318 training examples for 41 epoch(s)'
        >>> holdout_training({"n_train": 318, "fold_epochs": [30, 41]})
        'the average of its 2 fold models, each trained as in its trial (best epochs 30, 41)'
    """
    values = result if isinstance(result, dict) else result.model_dump()
    folds = values.get("fold_epochs")
    if folds:
        shown = ", ".join(str(e) for e in folds)
        return f"the average of its {len(folds)} fold models, each trained as in its trial (best epochs {shown})"
    n_train = f" {format_number(values['n_train'])}" if values.get("n_train") is not None else ""
    return f"retrained on all{n_train} training examples for {values.get('epochs')} epoch(s)"


@dataclasses.dataclass(frozen=True)
class _Metric:
    key: str
    label: str
    value: float
    spread: tuple[float, float] | None  # mean and standard deviation over the repeats' seeds


@dataclasses.dataclass(frozen=True)
class HoldoutView:
    """What a holdout result shows, decided once.

    Examples:
        >>> view = HoldoutView(HoldoutResult.model_validate({"task": "regression", "rmse": 2.61, "trial": 3}))
        >>> [(m.key, m.label) for m in view.metrics]
        [('rmse', 'RMSE')]
        >>> print(view.text("auto-mpg"))
        Holdout evaluation of study 'auto-mpg' (regression; best trial 3, None epochs)
          rmse                     2.6100
    """

    result: HoldoutResult

    @property
    def metrics(self) -> list[_Metric]:
        """The scalar test metrics the result holds, each with its spread over seeds when repeated."""
        r = self.result
        spread = r.repeats.mean if r.repeats else {}
        shown = []
        for key, label in _METRICS:
            value = getattr(r, key)
            if isinstance(value, int | float):
                pair = (spread[key], r.repeats.std[key]) if r.repeats and key in spread else None
                shown.append(_Metric(key, label, float(value), pair))
        return shown

    @property
    def averaged(self) -> str:
        """How precision, recall and F1 are averaged: of the positive class, or over the classes."""
        return {"binary": " (positive class)", "multiclass": " (macro)"}.get(self.result.task or "", "")

    @property
    def class_names(self) -> list[str]:
        matrix = self.result.confusion_matrix or []
        return [str(n) for n in self.result.class_names] or [str(i) for i in range(len(matrix))]

    @property
    def heading(self) -> str:
        """The note's heading: one section per kind (a single model, an ensemble of K)."""
        ensemble = self.result.ensemble
        return f"## Holdout evaluation (ensemble of {ensemble.k})" if ensemble else "## Holdout evaluation"

    # --- the terminal -----------------------------------------------------------------------------------------

    def text(self, name: str) -> str:
        """The terminal's report (``python -m search holdout``): aligned columns of plain text."""
        r = self.result
        which = "best trial" if r.chosen is not True else "trial"
        if r.ensemble:
            which = f"ensemble of {r.ensemble.k}, best trial"
        task = f"{r.task}; " if r.task else ""
        lines = [
            f"Holdout evaluation of study {name!r} ({task}{which} {r.trial}, "
            f"{_epochs_text(r)}{', stored result' if r.cached else ''})"
        ]
        if r.n_train is not None:
            lines.append(f"  trained on {r.n_train} examples, tested once on {r.n_test}")
        for metric in self.metrics:
            label = f"{metric.key}{self.averaged}" if metric.key in ("precision", "recall", "f1") else metric.key
            lines.append(f"  {label:<{_LABEL}}{metric.value:.4f}")
        if isinstance(r.validation_value, int | float):
            label = f"validation {r.metric}" if r.metric else "validation_value"
            lines.append(f"  {label:<{_LABEL}}{r.validation_value:.4f}")
        if r.ensemble:
            lines.append(f"  the average of {r.ensemble.k} retrained models; each member alone:")
            for m in r.ensemble.members:
                shown = ", ".join(f"{k} {m[k]:.4f}" for k in ("accuracy", "rmse", "loss") if k in m)
                lines.append(f"    trial {m['trial']:<6} {_epochs_text(m):>11}  {shown}")
        if r.repeats:
            lines.append(f"  over {r.repeats.n} seeds {r.repeats.seeds} (mean ± standard deviation)")
            for key, mean in r.repeats.mean.items():
                lines.append(f"    {key:<{_LABEL - 2}}{mean:.4f} ± {r.repeats.std[key]:.4f}")
        if r.per_class:
            width = max(8, *(len(n) + 1 for n in r.per_class))
            lines.append("  per class")
            lines.append("  " + " " * width + "".join(f"{h:>11}" for h in ("precision", "recall", "f1", "support")))
            for label, scores in r.per_class.items():
                values = [f"{scores.get(k, 0.0):>11.4f}" for k in ("precision", "recall", "f1-score")]
                lines.append("  " + f"{label:>{width}}" + "".join(values) + f"{int(scores.get('support', 0)):>11}")
        if r.confusion_matrix:
            names = self.class_names
            width = max(8, *(len(n) + 1 for n in names))
            lines.append("  confusion matrix (rows: true, columns: predicted)")
            lines.append("  " + " " * width + "".join(f"{n:>{width}}" for n in names))
            for label, row in zip(names, r.confusion_matrix, strict=True):
                lines.append("  " + f"{label:>{width}}" + "".join(f"{v:>{width}}" for v in row))
        if r.values and len(r.values) > 1:  # a multi-objective trial: its place on the front
            shown = ", ".join(f"{k} {format_value(v)}" for k, v in r.values.items())
            lines.append(f"  {'objectives (validation)':<{_LABEL}}{shown}")
        if r.feasible is False:
            lines.append(f"  {'constraints':<{_LABEL}}broken: this trial is infeasible")
        if r.model_path:
            lines.append(f"  {'model':<{_LABEL}}{r.model_path}")
        if r.preprocessing_path:
            lines.append(f"  {'preprocessing':<{_LABEL}}{r.preprocessing_path}")
        return "\n".join(lines)

    # --- optuna-dashboard -------------------------------------------------------------------------------------

    def markdown(self, *, metric: str = "", image_url: str | None = None, model_url: str | None = None) -> str:
        """The study's (or a chosen trial's) optuna-dashboard note: Markdown tables, the picture inline."""
        r = self.result
        lines = [self.heading, ""]
        chosen = ""
        if metric and r.validation_value is not None:
            chosen = f" ({metric} {r.validation_value:.4f} on the validation split)"
        which = "Trial" if r.chosen else "Best trial"  # holdout --trial N: a trial chosen by number
        if r.ensemble:
            which, chosen = f"The average of {r.ensemble.k} trials, best", ""
            members = ", ".join(f"{m['trial']} ({holdout_training(m)})" for m in r.ensemble.members)
            lines += [f"Ensemble of the {r.ensemble.k} best distinct configurations: trials {members}.", ""]
        lines.append(
            f"{which} **{r.trial}**{chosen}: {holdout_training(r)}, then evaluated once on "
            f"{format_number(r.n_test)} test examples (computed {r.computed_at or '?'}, "
            f"{r.train_time_s if r.train_time_s is not None else '?'} s)."
        )
        lines.append("")
        if r.repeats:  # holdout --repeats R: every metric's mean and standard deviation over R seeds
            rows = [[m.label, f"{m.value:.4f}", _spread(m)] for m in self.metrics]
            lines += _markdown_table(["metric", "test", f"mean ± sd over {r.repeats.n} seeds"], rows)
        else:
            lines += _markdown_table(["metric", "test"], [[m.label, f"{m.value:.4f}"] for m in self.metrics])
        if r.per_class:
            lines += ["", "**Per class**", ""]
            lines += _markdown_table(["class", "precision", "recall", "F1", "support"], self._per_class("{:.4f}"))
        if r.confusion_matrix:
            names = self.class_names
            lines += ["", "**Confusion matrix** (rows: true class, columns: predicted class)", ""]
            rows = [
                [f"**{n}**", *(format_number(int(v)) for v in row)]
                for n, row in zip(names, r.confusion_matrix, strict=True)
            ]
            lines += _markdown_table(["true \\ predicted", *names], rows)
            if image_url:
                lines += ["", f"![Confusion matrix]({image_url})", ""]
                lines.append("The picture is the study artifact `confusion_matrix.png` (see Artifacts below).")
        if r.model_path:
            where = f"[download]({model_url})" if model_url else "see Artifacts below"
            lines += [
                "",
                f"**Model**: `{Path(r.model_path).name}` (Optuna artifact `{r.artifact_id}`, {where}); "
                f"also saved at `{r.model_path}`.",
            ]
        return "\n".join(lines) + "\n"

    # --- the HTML report --------------------------------------------------------------------------------------

    def html_intro(self) -> str:
        r = self.result
        return (
            f"<p>Best trial <b>{_esc(r.trial)}</b>: {_esc(holdout_training(r))}, and evaluated once on "
            f"{_esc(format_number(r.n_test))} test examples (computed {_esc(r.computed_at or '?')}).</p>"
        )

    def html_metrics(self) -> tuple[list[str], list[list[str]]]:
        """The HTML report's metric table: header and rows of escaped cells (the trial's validation value last)."""
        r = self.result
        rows = [[_esc(m.label), _esc(four(m.value))] + ([_esc(_spread(m))] if r.repeats else []) for m in self.metrics]
        if r.validation_value is not None:
            rows.append(
                ["validation value of the trial", _esc(four(r.validation_value))] + (["-"] if r.repeats else [])
            )
        header = ["metric", "value"] + ([f"mean ± sd over {r.repeats.n} seeds"] if r.repeats else [])
        return header, rows

    def html_per_class(self) -> list[list[str]]:
        return [[_esc(cell) for cell in row] for row in self._per_class(None)]

    def _per_class(self, fmt: str | None) -> list[list[str]]:
        shown = (lambda v: fmt.format(v)) if fmt else four
        return [
            [
                str(name),
                shown(m.get("precision", 0)),
                shown(m.get("recall", 0)),
                shown(m.get("f1-score", 0)),
                format_number(int(m.get("support", 0))),
            ]
            for name, m in (self.result.per_class or {}).items()
        ]


def _spread(metric: _Metric) -> str:
    return f"{metric.spread[0]:.4f} ± {metric.spread[1]:.4f}" if metric.spread else "-"


def four(value: Any) -> str:
    """Four decimals (the report's tables), tiny values in scientific notation."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return format_number(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"


def format_value(value: float | None) -> str:
    """A value as a table shows it: whole numbers as such, others to four decimals, ``-`` for none.

    Examples:
        >>> format_value(10001.0), format_value(0.88123), format_value(None)
        ('10,001', '0.8812', '-')
    """
    if value is None:
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"


def _epochs_text(result: HoldoutResult | dict[str, Any]) -> str:
    """``41 epochs``, or a fold committee's ``epochs 30/41``."""
    values = result if isinstance(result, dict) else result.model_dump()
    shown = holdout_epochs(values)
    return f"epochs {shown}" if values.get("fold_epochs") else f"{shown} epochs"


def _markdown_table(header: list[str], rows: list[list[str]], align: str = "---:") -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|---|" + "|".join([align] * (len(header) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _esc(value: Any) -> str:
    return html.escape(str(value))
