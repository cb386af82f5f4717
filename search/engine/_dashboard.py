"""What optuna-dashboard shows: learning curves and notes of trials, the holdout note of a study.

Everything here is written once per trial (or once per holdout evaluation) through
optuna-dashboard's public API (``save_plotly_graph_object``, ``save_note``,
``artifact.get_artifact_path``) and Optuna's artifacts. The writers never raise:
a failed dashboard write is logged as a warning and the trial goes on.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.data import name_key
from search.engine._artifacts import study_artifacts

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

__all__ = [
    "confusion_matrix_png",
    "curve_names",
    "holdout_epochs",
    "holdout_note",
    "holdout_training",
    "learning_curve_figure",
    "learning_curve_id",
    "model_layers",
    "publish_holdout_note",
    "publish_trial",
    "trial_note",
    "upload_confusion_matrix",
]

logger = logging.getLogger("search")

HOLDOUT_HEADING = "## Holdout evaluation"
_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#d62728"


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


def curve_trace(
    values: list[float],
    *,
    label: str,
    color: str,
    dash: str,
    legendgroup: str,
    showlegend: bool,
    star_at: int | None = None,
) -> go.Scatter:
    """One learning curve: epochs counted from 1, non-finite values as gaps, a star at epoch ``star_at`` (0-based).

    Examples:
        >>> trace = curve_trace([0.5, float("nan")], label="train", color="red", dash="dot", legendgroup="t",
        ...                     showlegend=True)
        >>> list(trace.x), list(trace.y)
        ([1, 2], [0.5, None])
    """
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


def learning_curve_figure(
    history: dict[str, list[float]],
    *,
    title: str,
    best_epoch: int | None = None,
    compact: bool = False,
) -> go.Figure:
    """Train and validation curves of every metric of a Keras history, one panel each.

    Args:
        history: Per-epoch values, e.g. the ``history`` user attribute of a trial.
        title: Figure title.
        best_epoch: 0-based epoch to mark (the restored weights), if any.
        compact: Use plotly.js' plain defaults instead of a full template, which
            keeps the figure's JSON small for storage as a study attribute.

    Examples:
        >>> fig = learning_curve_figure({"loss": [0.7, 0.5], "val_loss": [0.6, 0.55]}, title="trial 0")
        >>> [trace.name for trace in fig.data]
        ['train', 'validation']
    """
    from plotly.subplots import make_subplots

    names = curve_names(history) or ["loss"]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.1)
    for col, name in enumerate(names, start=1):
        for key, label, color, dash in (
            (name, "train", _TRAIN_COLOR, "dash"),
            (f"val_{name}", "validation", _VAL_COLOR, "solid"),
        ):
            values = history.get(key)
            if not values:
                continue
            fig.add_trace(
                curve_trace(values, label=label, color=color, dash=dash, legendgroup=label, showlegend=col == 1),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="epoch", row=1, col=col, dtick=1 if len(history.get(name, [])) <= 20 else None)
    if best_epoch is not None:
        fig.add_vline(x=best_epoch + 1, line={"color": "gray", "dash": "dot"}, row="all", col="all")
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        margin={"l": 50, "r": 20, "t": 70, "b": 45},
        legend={"orientation": "h", "y": -0.2, "x": 0.5, "xanchor": "center"},
    )
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


def holdout_epochs(result: dict[str, Any]) -> str:
    """The epochs a holdout's model (or an ensemble member) trained: ``41``, or its fold models' ``30/41``.

    Examples:
        >>> holdout_epochs({"epochs": 41}), holdout_epochs({"fold_epochs": [30, 41]})
        ('41', '30/41')
    """
    folds = result.get("fold_epochs")
    return "/".join(str(e) for e in folds) if folds else str(result.get("epochs"))


def holdout_training(result: dict[str, Any]) -> str:
    """How a holdout's model (or an ensemble member, ``result``) was trained, in words.

    Examples:
        >>> holdout_training({"n_train": 318, "epochs": 41})
        'retrained on all 318 training examples for 41 epoch(s)'
        >>> holdout_training({"n_train": 318, "fold_epochs": [30, 41]})
        'the average of its 2 fold models, each trained as in its trial (best epochs 30, 41)'
    """
    folds = result.get("fold_epochs")
    if folds:
        shown = ", ".join(str(e) for e in folds)
        return f"the average of its {len(folds)} fold models, each trained as in its trial (best epochs {shown})"
    n_train = f" {_fmt(result['n_train'])}" if result.get("n_train") is not None else ""
    return f"retrained on all{n_train} training examples for {result.get('epochs')} epoch(s)"


def _fmt(value: Any) -> str:
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


def _status(attrs: dict[str, Any]) -> str:
    stopped = attrs.get("stopped_by")
    if stopped in ("early_stopping", "max_epochs"):
        return "complete"
    if stopped == "pruned":
        return "pruned"
    return "failed" if stopped else "running"


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
    status = _status(attrs)
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
    stopped = attrs.get("stopped_by")
    if stopped:
        lines.append(f"- **stopped by**: {stopped}")
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
                optimizer.append(f"{label} {_fmt(config[key])}")
        if optimizer:
            lines.append(f"- **training**: {', '.join(optimizer)}")
        regularization = [
            f"{label} {_fmt(config[key])}"
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
            lines.append(
                f"| {layer['name']} | {layer['kind']} | {_fmt(layer['units'])} | {_fmt(layer['activation'])} "
                f"| {_fmt(layer['rate'])} | {_fmt(layer['l1'] or None)} | {_fmt(layer['l2'] or None)} "
                f"| {shape} | {_fmt(layer['params'])} |"
            )
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
            status = _status(attrs)
            best = attrs.get("best_epoch")
            values = history.get(metric, [])
            value = f", {metric} {values[best]:.4f}" if best is not None and best < len(values) else ""
            figure = learning_curve_figure(
                history, title=f"Trial {trial.number} ({status}{value})", best_epoch=best, compact=True
            )
            save_plotly_graph_object(trial.study, figure, graph_object_id=learning_curve_id(trial.number))
        save_note(trial, trial_note(trial.number, attrs, metric=metric, direction=direction, layers=layers))
    except Exception as exc:  # the dashboard is a view: never fail a trial for it
        logger.warning("could not write the dashboard figure and note of trial %d: %s", trial.number, exc)
        return False
    return True


def confusion_matrix_png(result: dict[str, Any], path: Path, *, title: str = "") -> Path:
    """Draw the confusion matrix of a holdout result as a PNG with matplotlib.

    Examples:
        >>> import tempfile
        >>> result = {"confusion_matrix": [[5, 1], [2, 4]], "class_names": ["neg", "pos"]}
        >>> path = confusion_matrix_png(result, Path(tempfile.mkdtemp()) / "cm.png")
        >>> path.name, path.read_bytes()[1:4]
        ('cm.png', b'PNG')
    """
    import numpy as np
    from matplotlib.figure import Figure  # no pyplot: no backend or global state involved

    matrix = np.asarray(result["confusion_matrix"])
    names = result.get("class_names") or [str(i) for i in range(len(matrix))]
    size = 1.6 + 0.9 * len(names)
    fig = Figure(figsize=(size + 1.2, size), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "Confusion matrix (test split)", fontsize=10)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, f"{count:,}", ha="center", va="center", color="white" if count > threshold else "black")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _table(header: list[str], rows: list[list[str]], align: str = "---:") -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|---|" + "|".join([align] * (len(header) - 1)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def holdout_note(
    result: dict[str, Any], *, metric: str = "", image_url: str | None = None, model_url: str | None = None
) -> str:
    """The Markdown holdout report of a study (metrics, per-class table, confusion matrix).

    Args:
        result: A holdout result (see :func:`search.evaluate_holdout`).
        metric: The validation metric the best trial was chosen by.
        image_url: Dashboard path of the confusion-matrix PNG artifact, shown inline.
        model_url: Dashboard path of the ``.keras`` model artifact.

    Examples:
        >>> print(holdout_note({"accuracy": 0.9, "trial": 2, "epochs": 3}))  # doctest: +ELLIPSIS
        ## Holdout evaluation
        ...
    """
    ensemble = result.get("ensemble") or {}
    lines = [_heading(result), ""]
    validation = result.get("validation_value")
    chosen = f" ({metric} {validation:.4f} on the validation split)" if metric and validation is not None else ""
    which = "Trial" if result.get("chosen") else "Best trial"  # holdout --trial N: a trial chosen by number
    if ensemble:
        which, chosen = f"The average of {ensemble['k']} trials, best", ""
        members = ", ".join(f"{m['trial']} ({holdout_training(m)})" for m in ensemble["members"])
        lines += [f"Ensemble of the {ensemble['k']} best distinct configurations: trials {members}.", ""]
    lines.append(
        f"{which} **{result.get('trial')}**{chosen}: {holdout_training(result)}, then evaluated once on "
        f"{_fmt(result.get('n_test'))} test examples (computed {result.get('computed_at', '?')}, "
        f"{result.get('train_time_s', '?')} s)."
    )
    lines.append("")
    labels = {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1", "rmse": "RMSE"}
    labels |= {"mae": "MAE", "r2": "R²", "loss": "loss"}
    metrics = [(key, label, result[key]) for key, label in labels.items() if isinstance(result.get(key), int | float)]
    repeats = result.get("repeats") or {}
    if repeats:  # holdout --repeats R: every metric's mean and standard deviation over R seeds
        mean, std = repeats["mean"], repeats["std"]
        rows = [
            [label, f"{value:.4f}", f"{mean[key]:.4f} ± {std[key]:.4f}" if key in mean else "-"]
            for key, label, value in metrics
        ]
        lines += _table(["metric", "test", f"mean ± sd over {repeats['n']} seeds"], rows)
    else:
        lines += _table(["metric", "test"], [[label, f"{value:.4f}"] for _, label, value in metrics])
    per_class = result.get("per_class") or {}
    if per_class:
        lines += ["", "**Per class**", ""]
        rows = [
            [
                str(name),
                f"{m.get('precision', 0):.4f}",
                f"{m.get('recall', 0):.4f}",
                f"{m.get('f1-score', 0):.4f}",
                _fmt(int(m.get("support", 0))),
            ]
            for name, m in per_class.items()
        ]
        lines += _table(["class", "precision", "recall", "F1", "support"], rows)
    matrix = result.get("confusion_matrix")
    if matrix:
        names = result.get("class_names") or [str(i) for i in range(len(matrix))]
        lines += ["", "**Confusion matrix** (rows: true class, columns: predicted class)", ""]
        rows = [[f"**{name}**", *(_fmt(int(v)) for v in row)] for name, row in zip(names, matrix, strict=True)]
        lines += _table(["true \\ predicted", *map(str, names)], rows)
        if image_url:
            lines += ["", f"![Confusion matrix]({image_url})", ""]
            lines.append("The picture is the study artifact `confusion_matrix.png` (see Artifacts below).")
    if result.get("model_path"):
        where = f"[download]({model_url})" if model_url else "see Artifacts below"
        lines += [
            "",
            f"**Model**: `{Path(result['model_path']).name}` (Optuna artifact `{result.get('artifact_id')}`, {where}); "
            f"also saved at `{result['model_path']}`.",
        ]
    return "\n".join(lines) + "\n"


def upload_confusion_matrix(study: optuna.Study, result: dict[str, Any], *, url: str, part: str = "") -> dict[str, str]:
    """Draw a holdout result's confusion matrix and attach the PNG to the study; never raises.

    The holdout of a chosen trial (``holdout --trial N``) or of an ensemble keeps
    its picture in its own ``part`` of the study's report folder (``trial-N``, ``ensemble-K``).

    Returns:
        ``confusion_matrix_png`` (the file) and ``confusion_matrix_artifact_id``, or
        nothing for a regression result or when drawing or uploading failed (logged).

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> study = optuna.create_study(study_name="demo", storage=url)
        >>> result = {"confusion_matrix": [[5, 1], [2, 4]], "class_names": ["neg", "pos"]}
        >>> upload_confusion_matrix(study, result, url=url)
        {'confusion_matrix_png': '.../studies.db.artifacts/reports/demo-2a97516c354b/confusion_matrix.png',
         'confusion_matrix_artifact_id': '...'}
        >>> upload_confusion_matrix(study, {"rmse": 3.1}, url=url)  # a regression result has no matrix
        {}
    """
    if not result.get("confusion_matrix"):
        return {}
    try:
        from optuna.artifacts import upload_artifact

        store = study_artifacts(url, study)
        folder = f"reports/{name_key(study.study_name)}" + (f"/{part}" if part else "")
        name = f"{folder}/confusion_matrix.png"
        of = f" {part.replace('-', ' ')}" if part else ""
        title = f"{study.study_name}{of}: confusion matrix (test split)"
        with tempfile.TemporaryDirectory(prefix="search-picture-") as scratch:
            path = confusion_matrix_png(result, Path(scratch) / "confusion_matrix.png", title=title)
            store.put(name, path.read_bytes())
            artifact_id = upload_artifact(
                artifact_store=store, file_path=str(path), study_or_trial=study, mimetype="image/png"
            )
    except Exception as exc:
        logger.warning("could not draw or upload the confusion-matrix picture of study %r: %s", study.study_name, exc)
        return {}
    return {"confusion_matrix_png": store.describe(name), "confusion_matrix_artifact_id": artifact_id}


def _heading(result: dict[str, Any]) -> str:
    """The note heading of a holdout result: one section per kind (single model, ensemble of K)."""
    ensemble = result.get("ensemble") or {}
    return f"{HOLDOUT_HEADING} (ensemble of {ensemble['k']})" if ensemble else HOLDOUT_HEADING


def _without_section(note: str, heading: str) -> str:
    """``note`` without the section under ``heading`` (up to the next ``## `` heading); other text kept.

    Examples:
        >>> note = "Mine.\\n\\n## Holdout evaluation\\n\\nold\\n## Later\\nkept"
        >>> print(_without_section(note, "## Holdout evaluation"))
        Mine.
        <BLANKLINE>
        ## Later
        kept
    """
    lines = note.splitlines()
    if heading not in lines:
        return note.rstrip()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[:start] + lines[end:]).rstrip()


def publish_holdout_note(
    study: optuna.Study, result: dict[str, Any], *, metric: str = "", trial: optuna.trial.FrozenTrial | None = None
) -> bool:
    """Write the holdout report into the study's optuna-dashboard note (or ``trial``'s); never raises.

    Text the note already has before the holdout heading (a user's own notes) is
    kept; an earlier holdout section is replaced. The confusion-matrix picture and
    the model are linked through their artifact paths.

    Returns:
        Whether the note was written; a failure is logged as a warning.

    Examples:
        >>> import optuna
        >>> from optuna_dashboard import get_note, save_note
        >>> study = optuna.create_study(direction="maximize")
        >>> save_note(study, "My own notes.")
        >>> publish_holdout_note(study, {"accuracy": 0.9, "trial": 2, "epochs": 3}, metric="val_accuracy")
        True
        >>> print(get_note(study))  # doctest: +ELLIPSIS
        My own notes.
        <BLANKLINE>
        ## Holdout evaluation
        ...
    """
    try:
        from optuna_dashboard import get_note, save_note
        from optuna_dashboard.artifact import get_artifact_path

        image_id, model_id = result.get("confusion_matrix_artifact_id"), result.get("artifact_id")
        body = holdout_note(
            result,
            metric=metric,
            image_url=get_artifact_path(study, image_id) if image_id else None,
            model_url=get_artifact_path(study, model_id) if model_id else None,
        )
        import optuna

        # optuna-dashboard keeps a trial's note by trial id, which a FrozenTrial has only as _trial_id.
        target = study if trial is None else optuna.trial.Trial(study, trial._trial_id)
        kept = _without_section(get_note(target), _heading(result))
        save_note(target, f"{kept}\n\n{body}" if kept else body)
    except Exception as exc:
        logger.warning("could not write the holdout note of study %r: %s", study.study_name, exc)
        return False
    return True
