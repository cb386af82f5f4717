"""Multi-objective studies and constraints: the front, feasibility, holdouts of chosen trials, pages.

One real two-objective study (validation accuracy against parameter count) on
the synthetic data, with a ``max_params`` constraint and a latency limit, run
through the command line; the tests read it.
"""

from __future__ import annotations

import json
import textwrap
import urllib.request
from pathlib import Path

import numpy as np
import optuna
import pytest

from search import load_predictor, load_study, write_report
from search.engine import chosen_trial, pareto_front
from search.results import study_summary
from tests._helpers import cli_here
from tests.search.test_dashboard import _dashboard

MAX_PARAMS = 300  # 20 inputs: a linear model has 21 weights, one hidden layer of u units 22u + 1

PARETO_TOML = """
name = "{name}"
metric = "val_accuracy"
direction = "maximize"
seed = 3
backend = "jax"
{objectives}

[data]
kind = "synthetic"
validation_size = 0.25

[space]
module = "spaces.mlp"
depth = [0, 2]
units = [2, 32]
batch_size = [32, 64]
learning_rate = [0.003, 0.03]

[sampler]
name = "TPESampler"
n_startup_trials = 3

[pruner]                  # would prune every trial below the median from its first epoch, if it were used
name = "MedianPruner"
n_startup_trials = 1
n_warmup_steps = 0

[constraints]
max_params = {max_params}
max_latency_ms = 10000    # always met: makes every trial measure its latency

[budget]
trials = {trials}
max_epochs = 6
patience = 2

[[enqueue]]               # a linear model: feasible, small
depth = 0
input_dropout = 0.0
l1_on = false
l2_on = false
batch_size = 32
learning_rate = 0.01

[[enqueue]]               # two layers of 32 units: 1,761 parameters, infeasible
depth = 2
units = 32
taper = 1.0
input_dropout = 0.0
dropout = 0.0
l1_on = false
l2_on = false
batch_size = 32
learning_rate = 0.01
"""

TWO_OBJECTIVES = '[[objectives]]\nname = "params"\n'


def _definition(folder: Path, name: str, *, objectives: str, trials: int) -> Path:
    path = folder / f"{name}.toml"
    text = PARETO_TOML.format(name=name, objectives=objectives, trials=trials, max_params=MAX_PARAMS)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def pareto(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A finished two-objective study with a constraint, and the bare holdout (its most accurate feasible trial)."""
    folder = tmp_path_factory.mktemp("pareto")
    url = f"sqlite:///{folder / 'studies.db'}"
    definition = _definition(folder, "sizes", objectives=TWO_OBJECTIVES, trials=7)
    env = {"SEARCH_HOME": str(folder / "home"), "SEARCH_WORKERS": "1"}
    run = cli_here(None, "run", str(definition), "--storage", url, "--no-progress", env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    bare = cli_here(None, "holdout", "sizes", "--storage", url, "--json", env=env)
    assert bare.returncode == 0, bare.stderr[-3000:]
    return {"storage": url, "run": run.stdout, "holdout": json.loads(bare.stdout), "env": env, "folder": folder}


def _feasible(trial: optuna.trial.FrozenTrial) -> bool:
    return all(c <= 0 for c in trial.constraints.values())


def test_multi_objective_trials_are_not_pruned_and_stop_early_on_the_first_objective(pareto: dict) -> None:
    study, _ = load_study("sizes", storage=pareto["storage"])
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert study.metric_names == ["val_accuracy", "params"]
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 7 and all(t.state.name == "COMPLETE" for t in finished)  # the MedianPruner is not used
    for trial in finished:
        assert trial.intermediate_values == {}  # nothing reported: a multi-objective trial is never pruned
        history, best = trial.user_attrs["history"], trial.user_attrs["best_epoch"]
        accuracy = history["val_accuracy"]
        assert best == int(np.argmax(accuracy))  # early stopping and the best epoch follow the first objective
        assert trial.values[0] == pytest.approx(accuracy[best])
        assert trial.values[1] == trial.user_attrs["n_params"] == trial.user_attrs["params"]
        assert trial.user_attrs["latency_ms"] > 0
        assert trial.user_attrs["latency_device"].startswith(trial.user_attrs["backend"])
        stopped = trial.user_attrs["stopped_by"]
        assert (stopped == "early_stopping") == (len(accuracy) < 6)
    assert finished[0].values[1] == 21  # the enqueued linear model: 20 weights and a bias


def test_constraints_keep_infeasible_trials_off_the_front_and_out_of_a_bare_holdout(pareto: dict) -> None:
    study, _ = load_study("sizes", storage=pareto["storage"])
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    infeasible = [t for t in complete if not _feasible(t)]
    assert infeasible and infeasible[0].number == 1  # the enqueued two-layer model
    for trial in complete:
        assert trial.constraints["max_params"] == trial.values[1] - MAX_PARAMS
    front = pareto_front(study)
    assert front and all(_feasible(t) for t in front)
    feasible = [t for t in complete if _feasible(t)]
    for trial in feasible:  # the front is exactly the feasible trials that no feasible trial dominates
        dominated = any(
            o.values[0] >= trial.values[0] and o.values[1] <= trial.values[1] and o.values != trial.values
            for o in feasible
        )
        assert dominated == (trial not in front)
    summary = study_summary(study)
    assert summary["n_infeasible"] == len(infeasible)
    assert summary["best_trial"] == chosen_trial(study).number == pareto["holdout"]["trial"]
    assert summary["best_value"] == max(t.values[0] for t in front)
    assert pareto["holdout"]["feasible"] is True and pareto["holdout"]["chosen"] is False
    assert [row["trial"] for row in summary["pareto_front"]] == [t.number for t in front]
    assert "Pareto front" in pareto["run"] and "break a constraint" in pareto["run"]


def test_holdout_of_a_chosen_trial_is_stored_per_trial_and_shown(
    pareto: dict, capfd: pytest.CaptureFixture[str]
) -> None:
    url, env = pareto["storage"], pareto["env"]
    study, _ = load_study("sizes", storage=url)
    smallest = min(pareto_front(study), key=lambda t: t.values[1])
    result = cli_here(capfd, "holdout", "sizes", "--trial", str(smallest.number), "--storage", url, "--json", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    chosen = json.loads(result.stdout)
    assert chosen["trial"] == smallest.number and chosen["chosen"] is True
    assert chosen["values"] == {"val_accuracy": smallest.values[0], "params": smallest.values[1]}
    assert chosen["epochs"] == smallest.user_attrs["best_epoch"] + 1
    assert Path(chosen["model_path"]).name.endswith(f".trial-{smallest.number}.keras")
    study, _ = load_study("sizes", storage=url)
    assert study.user_attrs[f"holdout:{smallest.number}"]["accuracy"] == chosen["accuracy"]
    assert study.user_attrs["holdout"]["trial"] == pareto["holdout"]["trial"]  # the best trial's stays

    # A second call returns the stored result; the model of the chosen trial is served on its own.
    again = cli_here(capfd, "holdout", "sizes", "--trial", str(smallest.number), "--storage", url, "--json", env=env)
    assert json.loads(again.stdout)["cached"] is True
    predictor = load_predictor("sizes", storage=url, trial=smallest.number)
    assert predictor.model.count_params() == smallest.values[1]

    # An infeasible trial can still be chosen by number; its result says so.
    infeasible = cli_here(capfd, "holdout", "sizes", "--trial", "1", "--storage", url, env=env)
    assert infeasible.returncode == 0, infeasible.stderr[-3000:]
    assert "broken: this trial is infeasible" in infeasible.stdout

    listed = cli_here(capfd, "list", "--storage", url, "--json", env=env)
    (summary,) = json.loads(listed.stdout)["studies"]
    rows = {row["trial"]: row for row in summary["pareto_front"]}
    assert rows[smallest.number]["holdout"] == {"metric": "accuracy", "value": chosen["accuracy"]}
    assert summary["holdouts"]["1"]["value"] > 0
    text = cli_here(capfd, "list", "--storage", url, env=env).stdout
    assert f"accuracy {chosen['accuracy']:.4f}" in text and "Pareto front" in text


def test_a_single_objective_study_never_reports_an_infeasible_trial_as_best(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    definition = _definition(tmp_path, "limited", objectives="", trials=4)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run = cli_here(capfd, "run", str(definition), "--storage", url, "--no-progress", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    study, _ = load_study("limited", storage=url)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert not _feasible(complete[1])  # the enqueued two-layer model
    best_feasible = max((t for t in complete if _feasible(t)), key=lambda t: (t.value, -t.number))
    assert json.loads(run.stdout)["best_trial"] == best_feasible.number
    holdout = cli_here(capfd, "holdout", "limited", "--storage", url, "--json")
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    assert json.loads(holdout.stdout)["trial"] == best_feasible.number


def test_chosen_trial_leaves_out_a_better_infeasible_trial() -> None:
    for directions in (["maximize"], ["maximize", "minimize"]):
        study = optuna.create_study(directions=directions)
        for value, size in ((0.95, 5000), (0.9, 100), (0.8, 10)):
            trial = study.ask()
            trial.set_constraint("max_params", size - 1000)
            study.tell(trial, value if len(directions) == 1 else (value, size))
        assert chosen_trial(study).number == 1
        assert [t.number for t in pareto_front(study)] == ([1] if len(directions) == 1 else [1, 2])


def test_report_and_dashboard_show_the_pareto_front_in_a_browser(pareto: dict, browser, tmp_path: Path) -> None:
    url = pareto["storage"]
    study, _ = load_study("sizes", storage=url)
    front = pareto_front(study)
    path = write_report("sizes", storage=url, out=tmp_path)
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    for figure in ("fig-pareto-front", "fig-optimization-history", "fig-parallel-coordinates"):
        page.locator(f"#{figure} .main-svg").first.wait_for(timeout=30_000)
    rows = page.locator("section#pareto-front tbody tr")
    assert rows.count() == len(front)
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(len(front))] == [str(t.number) for t in front]
    # plotly draws one marker per trial: the front's and the others' (infeasible ones in their own trace)
    markers = page.locator("#fig-pareto-front .scatterlayer .point").count()
    assert markers == len([t for t in study.trials if t.state.name == "COMPLETE"])
    assert "val_accuracy" in page.locator("section#summary").inner_text()
    page.screenshot(path=tmp_path / "report.png", full_page=True)
    page.close()
    assert console == []

    with _dashboard(url) as base:
        with urllib.request.urlopen(f"{base}/api/studies", timeout=10) as response:
            (listed,) = json.load(response)["study_summaries"]
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/dashboard/studies/{listed['study_id']}")
        page.get_by_text("Pareto Front", exact=False).first.wait_for(timeout=30_000)
        plot = page.locator(".js-plotly-plot", has=page.locator(".scatterlayer")).first
        plot.wait_for(timeout=30_000)
        assert page.get_by_text("params").count() >= 1  # the objective names, from study.set_metric_names
        page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
        page.close()
    assert errors == []
