"""What optuna-dashboard shows of trials: their learning curves and notes.

Everything here is written once per trial through optuna-dashboard's public API
(``save_plotly_graph_object``, ``save_note``). The writers never raise: a failed
dashboard write is logged as a warning and the trial goes on. A holdout's note is
the results stage's (``search.results._notes``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from search.engine._records import TrialOutcome

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

__all__ = [
    "curve_names",
    "format_number",
    "learning_curve_id",
    "learning_curves",
    "model_layers",
    "publish_trial",
    "trial_note",
]

logger = logging.getLogger("search")

_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#d62728"
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def learning_curve_id(number: int) -> str:
    """The dashboard graph-object id of a trial's learning curves.

    Examples:
        >>> learning_curve_id(7)
        'learning-curves-trial-0007'
    """
    return f"learning-curves-trial-{number:04d}"


def curve_names(history: dict[str, list[float]]) -> list[str]:
    """The metrics of a Keras history that have curves, loss first (``val_`` pairs merged).

    Examples:
        >>> curve_names({"loss": [1.0], "val_loss": [1.1], "accuracy": [0.5], "val_accuracy": [0.4], "epoch_time": [2]})
        ['loss', 'accuracy']
    """
    names: list[str] = []
    for key in history:
        name = key.removeprefix("val_")
        if key != "epoch_time" and name not in names:
            names.append(name)
    return sorted(names, key=lambda n: n != "loss")


def _trace(
    values: list[float],
    *,
    label: str,
    color: str,
    dash: str,
    legendgroup: str,
    showlegend: bool,
    star_at: int | None = None,
) -> go.Scatter:
    """One learning curve: epochs counted from 1, non-finite values as gaps, a star at epoch ``star_at`` (0-based)."""
    import plotly.graph_objects as go

    marker = None
    if star_at is not None:
        starred = [i == star_at for i in range(len(values))]
        marker = {"size": [12 if s else 5 for s in starred], "symbol": ["star" if s else "circle" for s in starred]}
    return go.Scatter(
        x=list(range(1, len(values) + 1)),
        y=[v if math.isfinite(v) else None for v in values],
        mode="lines+markers",
        marker=marker,
        line={"color": color, "dash": dash},
        name=label,
        legendgroup=legendgroup,
        showlegend=showlegend,
    )


def learning_curves(
    curves: Sequence[tuple[str, dict[str, list[float]], int | None]],
    *,
    title: str = "",
    compact: bool = False,
) -> go.Figure:
    """Train and validation curves of one trial or several, one panel per metric.

    Args:
        curves: ``(name, history, best_epoch)`` of each trial: its name in the legend
            (empty for a figure of one trial), its per-epoch values (the ``history``
            user attribute) and the 0-based epoch whose weights were restored, if any.
        title: Figure title.
        compact: Use plotly.js' plain defaults instead of a full template, which
            keeps the figure's JSON small for storage as a study attribute.

    One unnamed trial (its dashboard figure): training dashed blue, validation
    solid red, a dotted line at the best epoch. Named trials (the report's best
    ones): a color each, validation solid, training dotted, a star at each best epoch.

    Examples:
        >>> fig = learning_curves([("", {"loss": [0.7, 0.5], "val_loss": [0.6, 0.55]}, 1)], title="trial 0")
        >>> [trace.name for trace in fig.data]
        ['train', 'validation']
        >>> fig = learning_curves([("trial 3", {"loss": [0.7], "val_loss": [0.6]}, 0)])
        >>> [trace.name for trace in fig.data], list(fig.data[0].y)
        (['trial 3 validation', 'trial 3 train'], [0.6])
    """
    from plotly.subplots import make_subplots

    names: list[str] = []
    for _, history, _ in curves:
        names += [n for n in curve_names(history) if n not in names]
    names = names or ["loss"]
    single = len(curves) == 1 and not curves[0][0]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.1 if single else 0.08)
    for rank, (trial, history, best) in enumerate(curves):
        color = _COLORS[rank % len(_COLORS)]
        kinds = (
            (("{}", "train", _TRAIN_COLOR, "dash"), ("val_{}", "validation", _VAL_COLOR, "solid"))
            if single
            else (("val_{}", "validation", color, "solid"), ("{}", "train", color, "dot"))
        )
        for col, name in enumerate(names, start=1):
            for key, kind, shade, dash in kinds:
                values = history.get(key.format(name))
                if not values:
                    continue
                label = f"{trial} {kind}" if trial else kind
                star = best if not single and kind == "validation" else None
                group = trial or label
                trace = _trace(
                    values, label=label, color=shade, dash=dash, legendgroup=group, showlegend=col == 1, star_at=star
                )
                fig.add_trace(trace, row=1, col=col)
            ticks = 1 if single and len(history.get(name, [])) <= 20 else None
            fig.update_xaxes(title_text="epoch", row=1, col=col, dtick=ticks)
    if single and curves[0][2] is not None:
        fig.add_vline(x=curves[0][2] + 1, line={"color": "gray", "dash": "dot"}, row="all", col="all")
    if single:
        fig.update_layout(
            title={"text": title, "font": {"size": 14}},
            margin={"l": 50, "r": 20, "t": 70, "b": 45},
            legend={"orientation": "h", "y": -0.2, "x": 0.5, "xanchor": "center"},
        )
    else:
        fig.update_layout(legend={"groupclick": "togglegroup"}, **({"title": title} if title else {}))
    if compact:
        fig.update_layout(template="none")
    return fig


def model_layers(model: Any) -> list[dict[str, Any]]:
    """A plain summary of a Keras model's layers: name, kind, units, activation, rate, L1, L2, parameters.

    Examples:
        >>> import keras
        >>> model = keras.Sequential(
        ...     [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dropout(0.2),
        ...      keras.layers.Dense(1)]
        ... )
        >>> [(layer["kind"], layer["units"], layer["params"]) for layer in model_layers(model)]
        [('Dense', 4, 16), ('Dropout', None, 0), ('Dense', 1, 5)]
    """
    layers = []
    for layer in model.layers:
        regularizer = getattr(layer, "kernel_regularizer", None)
        activation = getattr(layer, "activation", None)
        try:
            shape = tuple(layer.output.shape)[1:]
        except (AttributeError, ValueError):
            shape = None
        layers.append(
            {
                "name": layer.name,
                "kind": type(layer).__name__,
                "units": getattr(layer, "units", None),
                "activation": getattr(activation, "__name__", None) if activation is not None else None,
                "rate": getattr(layer, "rate", None),
                "l1": float(getattr(regularizer, "l1", 0.0) or 0.0) if regularizer is not None else 0.0,
                "l2": float(getattr(regularizer, "l2", 0.0) or 0.0) if regularizer is not None else 0.0,
                "output_shape": list(shape) if shape is not None else None,
                "params": int(layer.count_params()) if layer.built else 0,
            }
        )
    return layers


def format_number(value: Any) -> str:
    """A number as notes and reports show it: four significant figures, thousands apart, ``-`` for none.

    Examples:
        >>> format_number(0.876543), format_number(12345), format_number(1e-05), format_number(None)
        ('0.8765', '12,345', '1e-05', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.3g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def trial_note(
    number: int,
    attrs: dict[str, Any],
    *,
    metric: str,
    direction: str = "maximize",
    layers: list[dict[str, Any]] | None = None,
) -> str:
    """The Markdown note of a trial: outcome, model summary, regularization, best epoch, wall time.

    Args:
        number: Trial number.
        attrs: The trial's user attributes (``config``, ``history``, ``best_epoch``, ...).
        metric: The study's validation metric.
        direction: ``"maximize"`` or ``"minimize"`` (which value of ``metric`` is best).
        layers: The model's layers (see :func:`model_layers`), if the model was built.

    Examples:
        >>> print(trial_note(3, {"stopped_by": "pruned", "history": {"val_accuracy": [0.6]}}, metric="val_accuracy"))
        ... # doctest: +ELLIPSIS
        ### Trial 3: pruned after epoch 1
        ...
    """
    history: dict[str, list[float]] = attrs.get("history") or {}
    config: dict[str, Any] = attrs.get("config") or {}
    outcome = TrialOutcome.read(attrs, number=number)
    status = outcome.status
    epochs = len(history.get("loss", history.get(metric, [])))
    values = history.get(metric, [])
    heading = f"### Trial {number}: {status}"
    if status == "pruned":
        heading += f" after epoch {epochs}"
    lines = [heading, ""]
    best = attrs.get("best_epoch")
    if best is not None and best < len(values):
        lines.append(f"- **{metric}** at the best epoch: **{values[best]:.4f}**")
        lines.append(f"- **best epoch**: {best + 1} of {epochs} trained (its weights were restored)")
    elif values:
        finite = [v for v in values if math.isfinite(v)]
        last = f"{values[-1]:.4f}" if math.isfinite(values[-1]) else str(values[-1])
        pick = max if direction == "maximize" else min
        best_seen = f", best {pick(finite):.4f}" if finite else ""
        lines.append(f"- **{metric}**: last {last}{best_seen} after {epochs} epoch(s)")
    if outcome.stopped_by is not None:
        lines.append(f"- **stopped by**: {outcome.stopped_by.value}")
    if attrs.get("error"):
        error = str(attrs["error"]).replace("`", "'")
        lines.append(f"- **error**: `{error}`")
    wall = attrs.get("wall_time_s")
    if wall is not None:
        per_epoch = f" ({wall / epochs:.2f} s per epoch)" if epochs else ""
        lines.append(f"- **wall time**: {wall:.1f} s{per_epoch}")
    if attrs.get("n_params") is not None:
        lines.append(f"- **parameters**: {attrs['n_params']:,}")
    if config:
        optimizer = []
        for key, label in (("batch_size", "batch size"), ("learning_rate", "learning rate")):
            if key in config:
                optimizer.append(f"{label} {format_number(config[key])}")
        if optimizer:
            lines.append(f"- **training**: {', '.join(optimizer)}")
        regularization = [
            f"{label} {format_number(config[key])}"
            for key, label in (("input_dropout", "input dropout"), ("dropout", "dropout"), ("l1", "L1"), ("l2", "L2"))
            if key in config
        ]
        if regularization:
            lines.append(f"- **regularization**: {', '.join(regularization)}")
    if layers:
        lines += [
            "",
            "| layer | kind | units | activation | dropout rate | L1 | L2 | output shape | parameters |",
            "|---|---|---:|---|---:|---:|---:|---|---:|",
        ]
        for layer in layers:
            shape = " x ".join(str(d) for d in layer["output_shape"]) if layer.get("output_shape") else "-"
            cells = [layer["units"], layer["activation"], layer["rate"], layer["l1"] or None, layer["l2"] or None]
            shown = " | ".join(format_number(cell) for cell in cells)
            params = format_number(layer["params"])
            lines.append(f"| {layer['name']} | {layer['kind']} | {shown} | {shape} | {params} |")
    elif config.get("layer_units"):
        lines.append(f"- **hidden layers**: {', '.join(str(u) for u in config['layer_units'])} units")
    if history:
        lines += ["", f"Learning curves: figure `{learning_curve_id(number)}` on the study's page."]
    return "\n".join(lines) + "\n"


def publish_trial(
    trial: optuna.trial.Trial, *, metric: str, direction: str = "maximize", layers: list[dict[str, Any]] | None = None
) -> bool:
    """Write a trial's learning-curve figure and note for optuna-dashboard, once; never raises.

    Reads the trial's user attributes once from the storage, saves the figure on
    the study (``save_plotly_graph_object`` takes a study) under
    :func:`learning_curve_id` and the note on the trial.

    Returns:
        Whether everything was written; failures are logged as warnings.

    Examples:
        >>> import optuna
        >>> from optuna_dashboard import get_note
        >>> study = optuna.create_study(direction="maximize")
        >>> trial = study.ask()
        >>> trial.set_user_attr("history", {"loss": [0.7, 0.5], "val_accuracy": [0.6, 0.7]})
        >>> trial.set_user_attr("stopped_by", "max_epochs")
        >>> publish_trial(trial, metric="val_accuracy")
        True
        >>> print(get_note(trial))  # doctest: +ELLIPSIS
        ### Trial 0: complete
        <BLANKLINE>
        - **val_accuracy**: last 0.7000, best 0.7000 after 2 epoch(s)
        ...
    """
    try:
        from optuna_dashboard import save_note, save_plotly_graph_object

        attrs = trial.user_attrs
        history = attrs.get("history") or {}
        if history:
            status = TrialOutcome.read(attrs, number=trial.number).status
            best = attrs.get("best_epoch")
            values = history.get(metric, [])
            value = f", {metric} {values[best]:.4f}" if best is not None and best < len(values) else ""
            figure = learning_curves(
                [("", history, best)], title=f"Trial {trial.number} ({status}{value})", compact=True
            )
            save_plotly_graph_object(trial.study, figure, graph_object_id=learning_curve_id(trial.number))
        save_note(trial, trial_note(trial.number, attrs, metric=metric, direction=direction, layers=layers))
    except Exception as exc:  # the dashboard is a view: never fail a trial for it
        logger.warning("could not write the dashboard figure and note of trial %d: %s", trial.number, exc)
        return False
    return True
