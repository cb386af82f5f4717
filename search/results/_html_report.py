"""A self-contained HTML report of a study: plots of the search, learning curves, holdout."""

from __future__ import annotations

import contextlib
import datetime
import html
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from search.data import name_key
from search.engine import (
    TrialOutcome,
    chosen_trial,
    closes_storages,
    count_states,
    learning_curves,
    open_existing,
    pareto_front,
    ranked_trials,
    shown_url,
)
from search.errors import InputError
from search.results._stored import (
    HoldoutResult,
    holdout_headline,
    objective_names,
    read_holdout,
    stored_ensembles,
    stored_holdouts,
)
from search.results._view import HoldoutView, four, holdout_epochs

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

__all__ = ["SECTIONS", "render_report", "write_report"]

#: Section ids of the report, in order (each a ``<section id=...>``).
SECTIONS = (
    "summary",
    "pareto-front",
    "optimization-history",
    "param-importances",
    "parallel-coordinates",
    "learning-curves",
    "holdout",
    "trials",
)
TOP_TRIALS = 5
MIN_TRIALS_FOR_IMPORTANCES = 2
FEW_TRIALS_FOR_IMPORTANCES = 10

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2733;
       background: #f5f7fa; }
header { background: #1f4e79; color: white; padding: 1.2em 2em; }
header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
header p { margin: 0; opacity: .85; }
main { max-width: 1200px; margin: 0 auto; padding: 1em 2em 3em; }
section { background: white; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); margin: 1.2em 0;
          padding: .8em 1.4em 1.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #e3e8ee; padding-bottom: .3em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #dde3ea; padding: .3em .7em; text-align: right; }
th { background: #f0f3f7; }
td.text, th.text { text-align: left; }
p.note { color: #5b6775; font-size: .92em; }
div.missing { background: #fff8e1; border-left: 4px solid #f0b400; padding: .7em 1em; }
code { background: #f0f3f7; padding: 0 .25em; border-radius: 3px; }
nav a { margin-right: 1em; color: #cfe3f7; }
header code { background: rgba(255,255,255,.18); color: white; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; align-items: start; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 4) -> str:
    """A table cell's number (escaped); ``digits`` decimals, four unless said."""
    if digits == 4 or not isinstance(value, float):
        return _esc(four(value))
    return _esc(f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}")


def _table(header: list[str] | None, rows: list[list[str]], *, left: tuple[int, ...] = (0,)) -> str:
    """An HTML table of already-escaped cells; the columns in ``left`` are left-aligned, the rest right."""

    def cell(tag: str, i: int, content: str) -> str:
        return f'<{tag} class="text">{content}</{tag}>' if i in left else f"<{tag}>{content}</{tag}>"

    head = "<thead><tr>" + "".join(cell("th", i, h) for i, h in enumerate(header)) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _figure(fig: go.Figure, div_id: str, *, height: int = 460) -> str:
    import plotly.io as pio

    fig.update_layout(height=height)
    return str(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            default_height=f"{height}px",
            config={"displaylogo": False, "responsive": True},
        )
    )


def _missing(text: str) -> str:
    return f'<div class="missing">{text}</div>'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{_esc(title)}</h2>\n{body}\n</section>'


def _top_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best complete feasible trials by the (first) objective."""
    return ranked_trials(study)[:TOP_TRIALS]


def _first(study: optuna.Study, metric: str) -> dict[str, Any]:
    """Options of Optuna's plots that draw the first objective of a multi-objective study (none otherwise)."""
    if len(study.directions) == 1:
        return {}
    return {"target": lambda t: t.values[0], "target_name": metric}


def _summary(study: optuna.Study, url: str, states: dict[str, int]) -> str:
    attrs = study.user_attrs
    config = attrs.get("config") or {}
    metric = config.get("metric", "objective")
    objectives = ", ".join(
        f"{_esc(d.name.lower())} <code>{_esc(n)}</code>"
        for d, n in zip(study.directions, objective_names(study, metric), strict=False)
    )
    rows = [
        ["study", _esc(study.study_name)],
        ["description", _esc(config.get("description") or "-")],
        ["objectives" if len(study.directions) > 1 else "objective", objectives],
        [
            "trials",
            ", ".join(f"{n} {k.lower()}" for k, n in sorted(states.items())) or "none",
        ],
        ["storage", f"<code>{_esc(shown_url(url))}</code>" if url else "-"],
    ]
    if config:
        budget = (
            f"{config.get('trials')} trials, at most {config.get('max_epochs')} epochs, "
            f"patience {config.get('patience')}"
        )
        rows.append(["budget", _esc(budget)])
        sampler, pruner = (config.get(k, {}).get("name") for k in ("sampler", "pruner"))
        rows.append(["sampler / pruner", _esc(f"{sampler} / {pruner}")])
        limits = config.get("constraints") or {}
        if limits:
            rows.append(["constraints", _esc(", ".join(f"{k} = {v:g}" for k, v in limits.items()))])
    body = _table(None, rows, left=(0, 1))
    trial = chosen_trial(study)
    if trial is not None:
        best_epoch = trial.user_attrs.get("best_epoch")
        epoch = (
            f", best epoch {best_epoch + 1} of {trial.user_attrs.get('epochs_trained')}"
            if best_epoch is not None
            else ""
        )
        which = "Best trial" if len(study.directions) == 1 else "Most accurate trial of the front"
        body += f"<p><b>{which} {trial.number}</b>: {_esc(metric)} = <b>{_num(trial.values[0])}</b>{_esc(epoch)}.</p>"
        model = trial.user_attrs.get("config") or trial.params
        body += f"<p>Configuration: <code>{_esc(json.dumps(model, default=str))}</code></p>"
    else:
        body += _missing("No completed trial yet.")
    return body


def _optimization_history(study: optuna.Study, complete: list[Any], metric: str) -> str:
    from optuna.visualization import plot_optimization_history

    if not complete:
        return _missing("No completed trial yet: nothing to plot.")
    fig = plot_optimization_history(study, **_first(study, metric))
    return _figure(fig, "fig-optimization-history", height=420)


def _param_importances(study: optuna.Study, complete: list[Any], metric: str) -> str:
    from optuna.visualization import plot_param_importances

    n = len(complete)
    if n < MIN_TRIALS_FOR_IMPORTANCES:
        return _missing(
            f"Parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCES} completed trials; "
            f"this study has {n}. Run more trials and write the report again."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fig = plot_param_importances(study, **_first(study, metric))
    except Exception as exc:  # e.g. no parameter varies
        return _missing(f"Parameter importances could not be computed: {_esc(exc)}")
    caution = (
        f'<p class="note">Estimated from only {n} completed trials (Optuna\'s default evaluator, PED-ANOVA): '
        "treat the ranking as a hint.</p>"
        if n < FEW_TRIALS_FOR_IMPORTANCES
        else f'<p class="note">Estimated from {n} completed trials with Optuna\'s default evaluator (PED-ANOVA).</p>'
    )
    return caution + _figure(fig, "fig-param-importances", height=420)


def _parallel_coordinates(study: optuna.Study, complete: list[Any], metric: str) -> str:
    from optuna.visualization import plot_parallel_coordinate

    if not complete:
        return _missing("No completed trial yet: nothing to plot.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = plot_parallel_coordinate(study, **_first(study, metric))
    return _figure(fig, "fig-parallel-coordinates", height=480)


def _learning_curves(study: optuna.Study, complete: list[Any], metric: str) -> str:
    from optuna.visualization import plot_intermediate_values

    top = [t for t in _top_trials(study) if t.user_attrs.get("history")]
    if not top:
        return _missing("No completed trial with a recorded <code>history</code> yet.")
    outcomes = [TrialOutcome.of(t) for t in top]
    fig = learning_curves([(f"trial {t.number}", o.history, o.best_epoch) for t, o in zip(top, outcomes, strict=True)])
    body = (
        f'<p class="note">The {len(top)} best completed trials by {_esc(metric)}: validation solid, training '
        "dotted, a star at the best epoch (the weights early stopping restored).</p>"
    )
    body += _figure(fig, "fig-learning-curves", height=460)
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            every = plot_intermediate_values(study)
        every.update_layout(title=f"{metric} per epoch of every trial (pruned included)")
        every.update_xaxes(title_text="epoch, counted from 0 (Optuna's step)")
        body += _figure(every, "fig-intermediate-values", height=420)
    return body


def _pareto_front(study: optuna.Study, metric: str) -> str:
    """The Pareto front of a multi-objective study: Optuna's plot, a table with the holdouts of trials evaluated."""
    from optuna.visualization import plot_pareto_front

    if len(study.directions) == 1:
        return '<p class="note">A single-objective study: no front (see the summary for its best trial).</p>'
    front = pareto_front(study)
    if not front:
        return _missing("No complete feasible trial yet: no front.")
    names = objective_names(study, metric)
    holdouts = stored_holdouts(study)
    rows = []
    for t in front:
        held = holdout_headline(holdouts.get(t.number))
        rows.append(
            [
                str(t.number),
                *(_num(v) for v in t.values),
                _num(t.user_attrs.get("n_params")),
                f"{_esc(held['metric'])} {_num(held['value'])}" if held else "-",
            ]
        )
    header = ["trial", *(_esc(n) for n in names), "parameters", "holdout (test)"]
    intro = (
        f'<p class="note">{len(front)} trials no other feasible trial beats on every objective, best '
        f"{_esc(names[0])} first. <code>python -m search holdout {_esc(study.study_name)} --trial N</code> "
        "evaluates one of them once on the test split.</p>"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = plot_pareto_front(study, target_names=names) if len(names) <= 3 else None
    plot = _figure(fig, "fig-pareto-front", height=460) if fig is not None else ""
    return intro + _table(header, rows) + plot


def _confusion_heatmap(matrix: list[list[int]], names: list[str]) -> go.Figure:
    import plotly.graph_objects as go

    labels = [str(n) for n in names]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            colorscale="Blues",
            text=[[f"{v:,}" for v in row] for row in matrix],
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Confusion matrix (test split)",
        xaxis={"title": "predicted", "side": "bottom"},
        yaxis={"title": "true", "autorange": "reversed"},
    )
    return fig


def _holdout(study: optuna.Study, result: HoldoutResult | None) -> str:
    chosen = {n: r for n, r in stored_holdouts(study).items() if r.chosen}
    body = _holdout_of_best(study, result)
    if chosen:
        rows = []
        for number, r in chosen.items():
            held = holdout_headline(r) or {"metric": "-", "value": None}
            rows.append(
                [
                    str(number),
                    _esc(held["metric"]),
                    _num(held["value"]),
                    _num(r.validation_value),
                    _esc(holdout_epochs(r)),
                ]
            )
        body += "<h3>Chosen trials</h3>" + _table(["trial", "metric", "test", "validation", "epochs"], rows)
    ensembles = stored_ensembles(study)
    if ensembles:
        rows = []
        for k, r in ensembles.items():
            held = holdout_headline(r) or {"metric": "-", "value": None}
            members = r.ensemble.members if r.ensemble else []
            alone = ", ".join(f"{m['trial']}: {_num(m.get(held['metric']))}" for m in members)
            rows.append([_esc(k), _esc(held["metric"]), _num(held["value"]), _esc(alone)])
        header = ["members", "metric", "ensemble (test)", "each member alone (trial: test)"]
        body += "<h3>Ensembles of the best trials</h3>" + _table(header, rows, left=(3,))
    return body


def _holdout_of_best(study: optuna.Study, result: HoldoutResult | None) -> str:
    if result is None:
        return _missing(
            "Holdout not computed yet. The test split stays untouched until "
            f"<code>python -m search holdout {_esc(study.study_name)}</code> retrains the best configuration "
            "and evaluates it once; then write the report again."
        )
    view = HoldoutView(result)
    header, rows = view.html_metrics()
    metrics = _table(header, rows)
    if result.per_class:
        metrics += "<h3>Per class</h3>" + _table(
            ["class", "precision", "recall", "F1", "support"], view.html_per_class()
        )
    body = view.html_intro()
    if result.confusion_matrix:
        names = view.class_names
        size = 320 + 40 * len(names)
        heatmap = _figure(_confusion_heatmap(result.confusion_matrix, names), "fig-confusion-matrix", height=size)
        body += f'<div class="grid"><div>{metrics}</div><div>{heatmap}</div></div>'
    else:
        body += metrics
    if result.model_path:
        body += (
            f'<p class="note">Model: <code>{_esc(result.model_path)}</code> '
            f"(Optuna artifact <code>{_esc(result.artifact_id)}</code>, downloadable from optuna-dashboard).</p>"
        )
    return body


def _stopped(trial: optuna.trial.FrozenTrial) -> str:
    """How a trial's training ended, as the trials table shows it."""
    stopped = TrialOutcome.of(trial).stopped_by
    return "-" if stopped is None else stopped.value


def _trials_table(trials: list[optuna.trial.FrozenTrial], names: list[str]) -> str:
    if not trials:
        return _missing("No trial yet.")
    rows = []
    for t in trials:
        a = t.user_attrs
        best = a.get("best_epoch")
        params = ", ".join(f"{k}={_num(v, 3) if isinstance(v, float) else _esc(v)}" for k, v in t.params.items())
        rows.append(
            [
                str(t.number),
                _esc(t.state.name.lower()),
                *(_num(v) for v in (t.values or [None] * len(names))),
                "-" if best is None else str(best + 1),
                _esc(a.get("epochs_trained", "-")),
                _esc(_stopped(t)),
                _num(a.get("n_params")),
                _num(a.get("wall_time_s"), 3),
                f'<span style="font-size:.85em">{params}</span>',
            ]
        )
    n = len(names)
    header = ["trial", "state", *(_esc(m) for m in names), "best epoch", "epochs", "stopped by", "parameters"]
    return _table([*header, "wall s", "params"], rows, left=(1, 4 + n, 7 + n))


def render_report(study: optuna.Study, *, url: str = "") -> str:
    """The report of a study as one HTML page (plotly.js inlined once; no network needed).

    Examples:
        >>> import optuna
        >>> study = optuna.create_study(study_name="demo", direction="maximize")
        >>> _ = study.tell(study.ask({"units": optuna.distributions.IntDistribution(8, 64)}), 0.8)
        >>> page = render_report(study)
        >>> page.startswith("<!DOCTYPE html>"), 'id="holdout"' in page  # no holdout yet: a notice
        (True, True)
    """
    import optuna
    from plotly.offline import get_plotlyjs

    states = count_states(study)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    config = study.user_attrs.get("config") or {}
    metric = str(config.get("metric", "objective"))
    sections = [
        _section("summary", "Summary", _summary(study, url, states)),
        _section("pareto-front", "Pareto front", _pareto_front(study, metric)),
        _section("optimization-history", "Optimization history", _optimization_history(study, complete, metric)),
        _section("param-importances", "Parameter importances", _param_importances(study, complete, metric)),
        _section("parallel-coordinates", "Parallel coordinates", _parallel_coordinates(study, complete, metric)),
        _section("learning-curves", "Learning curves of the top trials", _learning_curves(study, complete, metric)),
        _section("holdout", "Holdout evaluation", _holdout(study, read_holdout(study))),
        _section(
            "trials", "All trials", _trials_table(study.get_trials(deepcopy=False), objective_names(study, metric))
        ),
    ]
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    nav = "".join(f'<a href="#{s}">{s.replace("-", " ")}</a>' for s in SECTIONS)
    title = f"Study {study.study_name}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style>\n'
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
        "</head><body>\n"
        f"<header><h1>{_esc(title)}</h1><p>Report written {now} by <code>python -m search report</code>.</p>"
        f"<nav>{nav}</nav></header>\n<main>\n" + "\n".join(sections) + "\n</main></body></html>\n"
    )


@closes_storages
def write_report(name: str, *, storage: str | None = None, out: str | Path | None = None) -> Path | str:
    """Write a self-contained HTML report of a study and return its path.

    Sections: summary, optimization history, parameter importances (or why they
    cannot be computed yet), parallel coordinates, learning curves of the top
    trials (from their ``history`` user attributes), the holdout evaluation
    (metrics, per-class table, confusion-matrix heatmap, or a "not computed yet"
    notice) and a table of all trials. plotly.js is inlined, so the file opens
    without a network.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.
        out: A folder (the file is ``<study>.html`` in it) or a path ending in
            ``.html``; default a ``reports`` folder beside the study's artifacts.

    Returns:
        The path of the written report (an ``s3://`` URL when the study keeps its
        artifacts in S3 and no ``out`` is given).

    Raises:
        InputError: No such storage or study, or an ``out`` that cannot be written
            (checked before the report is drawn).

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> folder = Path(tempfile.mkdtemp())
        >>> url = f"sqlite:///{folder}/studies.db"
        >>> _ = optuna.create_study(study_name="demo", storage=url)
        >>> write_report("demo", storage=url, out=folder / "reports").relative_to(folder)
        PosixPath('reports/demo-2a97516c354b.html')
        >>> write_report("demo", storage=url).relative_to(folder)  # beside the study's artifacts
        PosixPath('studies.db.artifacts/reports/demo-2a97516c354b.html')
    """
    opened = open_existing(name, storage=storage)
    study, store = opened.study, opened.store
    relative = f"reports/{name_key(study.study_name)}.html"
    if out is not None:
        path = _report_path(Path(out), study.study_name)
    else:
        store.check_writable((relative,))
    page = render_report(study, url=opened.url)
    if out is None:  # in the study's store: a folder's file, or an object store's URL
        store.put(relative, page.encode("utf-8"))
        where = store.describe(relative)
        return where if "://" in where else Path(where)
    made = not path.parent.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:  # e.g. a folder that root may "write" by its mode, such as /proc
        if made:
            with contextlib.suppress(OSError):
                path.parent.rmdir()
        raise InputError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    return path


def _report_path(out: Path, name: str) -> Path:
    """The report file that ``--out`` names, checked before the report is drawn.

    ``out`` is a ``.html`` path or a folder; the folder holding the report may be
    missing (it is created) when its parent folder exists.

    Raises:
        InputError: ``out`` is an existing file that is not ``.html``, its folder's
            parent does not exist, or the folder or file cannot be written.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _report_path(folder / "reports", "demo").relative_to(folder)
        PosixPath('reports/demo-2a97516c354b.html')
        >>> _report_path(folder / "a" / "b" / "r.html", "demo")
        Traceback (most recent call last):
        ...
        search.errors.InputError: cannot write the report: folder .../a does not exist
    """
    if out.suffix.lower() == ".html":
        path = out
    elif out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is an existing file, not a folder (a report file name ends in .html)")
    else:
        path = out / f"{name_key(name)}.html"
    if path.exists() and not path.is_file():
        raise InputError(f"cannot write the report: {path} is not a file")
    folder = path.parent
    parent = folder if folder.exists() else folder.parent
    if not parent.exists():
        raise InputError(f"cannot write the report: folder {parent} does not exist")
    if not parent.is_dir():
        raise InputError(f"cannot write the report: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"cannot write the report: {path if path.exists() else parent} is read-only")
    return path
