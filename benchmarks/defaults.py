"""Which sampler and pruner reach a good model soonest: the time-to-quality benchmark of the shipped defaults.

Each arm is a shipped study with its ``[sampler]`` and ``[pruner]`` tables replaced (nothing else:
same space, data, budget per trial, workers as ``run`` picks them), run as a user runs it,
``python -m search run DEFINITION --timeout BUDGET``, in a fresh SQLite file, one arm after the
other (they never share the CPU). The clock starts when the ``run`` process starts (interpreter
start-up, imports and data loading from the vectorized-data cache count); trials that finished within
the budget count. Each arm compiles into an empty compilation cache of its own.

Reported per study and arm, as medians over the seeds (the study's ``seed``, which also draws the
data split of ``iris`` and ``auto-mpg``) with the range: the best validation value reached by 30 s,
60 s and the budget, the time until it first reached the study's target, and the trials finished.

Arms (``--arms``; a name not valid for a study is skipped there):

- ``tpe-median``: TPE (multivariate, constant liar; 10 random start-up trials) with median pruning from
  the second epoch: ``imdb-bow`` as shipped;
- ``tpe-wilcoxon``: TPE with the Wilcoxon fold pruner: ``iris`` and ``auto-mpg`` as shipped;
- ``gp-median`` / ``gp-wilcoxon``: Optuna's ``GPSampler`` (10 start-up trials) with the same pruners
  (needs PyTorch: ``pip install torch``);
- ``tpe-hyperband``: TPE with ``HyperbandPruner(min_resource=1, reduction_factor=3)`` over epochs;
- ``tpe-halving``: TPE with ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``;
- ``tpe-none``: TPE, no pruning;
- any arm with ``-cold`` appended (``tpe-hyperband-cold``): the same with ``portfolio = false``, the
  sampler picking from the first trial, as every study started before the portfolio start
  (2026-12-08); with ``-portfolio`` appended: ``portfolio = true``, the space's portfolio tried first;
  with neither: the study's own setting, as shipped.

OptunaHub's ``AutoSampler`` is not measured: OptunaHub loads it from GitHub at run time, which these
offline machines cannot reach (and it runs ``GPSampler`` for studies of this size).

Usage::

    python benchmarks/defaults.py [--studies imdb-bow,iris,auto-mpg] [--seeds 42,1,2] [--budget imdb-bow=90,iris=60]
        [--arms tpe-median,gp-median,...] [--out results.json]
    python benchmarks/defaults.py --table results.json

Environment: ``SEARCH_DATA_DIR`` (the IMDB archive, ``auto-mpg.csv``) and ``SEARCH_CACHE_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from peers import best_by, study_with, time_to

REPO = Path(__file__).resolve().parents[1]
STARTUP = {"n_startup_trials": 10}
SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": {"name": "TPESampler", **STARTUP, "multivariate": True, "constant_liar": True},
    "gp": {"name": "GPSampler", **STARTUP},
}
PRUNERS: dict[str, dict[str, Any]] = {
    "median": {"name": "MedianPruner", "n_startup_trials": 5, "n_warmup_steps": 1},
    "wilcoxon": {"name": "WilcoxonPruner", "p_threshold": 0.1},
    "hyperband": {"name": "HyperbandPruner", "min_resource": 1, "reduction_factor": 3},
    "halving": {"name": "SuccessiveHalvingPruner", "min_resource": 1, "reduction_factor": 3},
    "none": {"name": "NopPruner"},
}
# The fold pruner applies to cross-validated studies only; the epoch pruners to the others.
FOLD_PRUNERS = {"wilcoxon", "none"}
TARGETS = {"imdb-bow": 0.889, "iris": 0.975, "auto-mpg": 2.6}
BUDGETS = {"imdb-bow": 90.0, "iris": 60.0, "auto-mpg": 60.0}
ARMS = ("tpe-median", "tpe-wilcoxon", "gp-median", "gp-wilcoxon", "tpe-hyperband", "tpe-halving", "tpe-none")


def definition(study: str, arm: str, seed: int, workdir: Path) -> Path | None:
    """The shipped definition of ``study`` with the arm's sampler and pruner, written in ``workdir``.

    ``None``: the arm is not for this study (a fold pruner for a study without folds, or the reverse).
    """
    raw = tomllib.loads((REPO / "studies" / f"{study}.toml").read_text())
    sampler_name, pruner_name, *cold = arm.split("-")  # cold: [], ["cold"] or ["portfolio"]
    cross_validated = int(raw.get("cv", 1)) > 1
    if (pruner_name in FOLD_PRUNERS) != cross_validated and pruner_name != "none":
        return None
    sampler = dict(SAMPLERS[sampler_name])
    if sampler_name == "tpe" and not raw.get("sampler", {}).get("constant_liar", True):
        sampler.pop("constant_liar")
    pruner = dict(PRUNERS[pruner_name])
    if pruner_name == "hyperband":
        pruner["max_resource"] = raw["budget"]["max_epochs"]
    name = f"{study}-{arm}-s{seed}"
    start = {"portfolio": cold == ["portfolio"]} if cold else {}
    path = workdir / f"{name}.toml"
    return study_with(study, path, name=name, seed=seed, sampler=sampler, pruner=pruner, **start)


def run_arm(study: str, arm: str, seed: int, budget: float, workdir: Path) -> dict[str, Any] | None:
    """One ``run`` of the arm; its finished trials as a curve of ``(seconds from start, best value so far)``."""
    import optuna

    path = definition(study, arm, seed, workdir)
    if path is None:
        return None
    storage = f"sqlite:///{workdir / f'{path.stem}.db'}"
    command = [sys.executable, "-m", "search", "run", str(path), "--storage", storage, "--trials", "100000"]
    command += ["--timeout", str(budget), "--no-progress", "--json"]
    # Each arm compiles into an empty cache of its own, as on a fresh machine (the data cache is shared).
    env = {**os.environ, "SEARCH_COMPILE_CACHE": str(workdir / f"xla-{path.stem}")}
    start = time.time()
    with (workdir / f"{path.stem}.log").open("w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env).returncode
    if code != 0:
        return {"error": f"exit status {code}; see {workdir / f'{path.stem}.log'}"}
    loaded = optuna.load_study(study_name=path.stem, storage=storage)
    maximize = loaded.direction == optuna.study.StudyDirection.MAXIMIZE
    ended = sorted(
        (t.datetime_complete.timestamp() - start, t.value)
        for t in loaded.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.datetime_complete is not None and t.value is not None
    )
    curve, best = [], None
    for seconds, value in ended:
        if seconds > budget:
            break
        if best is None or (value > best if maximize else value < best):
            best = value
        curve.append((round(seconds, 1), best))
    finished = loaded.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    )
    return {
        "curve": curve,
        "maximize": maximize,
        "finished": sum(
            t.datetime_complete is not None and t.datetime_complete.timestamp() - start <= budget for t in finished
        ),
    }


def _median(values: list[float | None], *, digits: int, unit: str = "") -> str:
    """Median and range, ``-`` for a seed that never got there (a missing time counts as longer than any)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return "-"
    missing = len(values) - len(known)
    middle = statistics.median([*known, *([float("inf")] * missing)])
    text = "-" if middle == float("inf") else f"{middle:.{digits}f}{unit}"
    never = f", {missing} never" if missing else ""
    spread = f" ({known[0]:.{digits}f}-{known[-1]:.{digits}f}{unit}{never})"
    return text + (spread if len(values) > 1 else "")


def table(results: dict[str, dict[str, list[dict[str, Any]]]], budgets: dict[str, float]) -> str:
    """A markdown table: one row per study and arm, medians over seeds."""
    rows = [
        "| study | arm | seeds | best by 30 s | best by 60 s | best by budget | time to target | trials |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for study, arms in results.items():
        digits = 4 if study != "auto-mpg" else 3
        for arm, runs in arms.items():
            ok = [r for r in runs if "curve" in r]
            if not ok:
                rows.append(f"| `{study}` | {arm} | 0 | {runs[0].get('error', '')} | | | | |")
                continue
            maximize, target = ok[0]["maximize"], TARGETS[study]
            cells = [
                _median([best_by(r["curve"], s, maximize=maximize) for r in ok], digits=digits)
                for s in (30, 60, budgets[study])
            ]
            reach = _median([time_to(r["curve"], target, maximize=maximize) for r in ok], digits=0, unit=" s")
            trials = _median([float(r["finished"]) for r in ok], digits=0)
            rows.append(
                f"| `{study}` (target {target}, {budgets[study]:.0f} s) | {arm} | {len(ok)} | "
                + " | ".join(cells)
                + f" | {reach} | {trials} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", default="imdb-bow,iris,auto-mpg")
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--budget", default="", help="per study, e.g. imdb-bow=120,iris=60")
    parser.add_argument("--out", type=Path, help="results as JSON, written after every run")
    parser.add_argument("--table", type=Path, metavar="JSON", help="only print the table of an earlier run's --out")
    args = parser.parse_args()
    if args.table:
        saved = json.loads(args.table.read_text())
        print(table(saved["results"], saved["budgets"]))
        return
    budgets = dict(BUDGETS)
    for item in filter(None, args.budget.split(",")):
        name, _, seconds = item.partition("=")
        budgets[name] = float(seconds)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="defaults-") as folder:
        for seed in (int(s) for s in args.seeds.split(",")):
            for study in args.studies.split(","):
                for arm in args.arms.split(","):
                    ran = run_arm(study, arm, seed, budgets[study], Path(folder))
                    if ran is None:
                        continue
                    results.setdefault(study, {}).setdefault(arm, []).append({"seed": seed, **ran})
                    print(f"{study} {arm} seed {seed}: {ran.get('error') or ran['curve'][-1:]}", flush=True)
                    if args.out:
                        args.out.write_text(json.dumps({"budgets": budgets, "results": results}, indent=1))
    print(table(results, budgets))


if __name__ == "__main__":
    main()
