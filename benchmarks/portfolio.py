"""Choose the portfolio of ``spaces.mlp``: the configurations a study tries first, picked on other data sets.

A "zero-shot" start in the way of Auto-sklearn 2.0: configurations that did well across several data sets
are likely to do well on a new one. The candidates come from data sets that none of the measured workloads
use (``imdb-bow``, ``iris``, ``auto-mpg``, and every IMDB study, bag-of-words, n-grams, text or Pareto
alike): four of scikit-learn's bundled tables and one generated one, each written to a CSV file and run as
the shipped ``csv`` study on the space's default bounds (plus the ``elu`` and ``tanh`` activations):

1. **Search** each source data set with the shipped sampler and pruner (``--trials`` trials) and keep its
   ``--top`` best configurations as candidates.
2. **Cross-evaluate**: every candidate is trained on every source data set (one study per data set, the
   candidates as its ``[[enqueue]]`` sets, the same split and folds as step 1).
3. **Normalize** each data set's values to a regret in [0, 1] (0: the best candidate there, 1: the worst)
   and **greedily** add the candidate that lowers the mean over data sets of the best regret in the
   portfolio most, until ``--size`` configurations (or no candidate lowers it).

The script prints the regret table and the portfolio as a Python literal for ``spaces/mlp.py``'s
``PORTFOLIO`` (which :mod:`spaces.bow` reuses: the representation is left to the sampler). How it was
run, and what the portfolio changed on the measured workloads, is in ``docs/benchmarks.md``.

Usage::

    python benchmarks/portfolio.py [--trials 30] [--top 2] [--size 6] [--seed 0] [--out results.json]
    python benchmarks/portfolio.py --table results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from peers import study_with

REPO = Path(__file__).resolve().parents[1]
# Data sets that no measured workload uses: name -> (scikit-learn loader or generator, task).
SOURCES: dict[str, str] = {
    "breast-cancer": "classification",
    "wine": "classification",
    "digits": "classification",
    "diabetes": "regression",
    "friedman1": "regression",
}
ACTIVATIONS = ["relu", "elu", "tanh"]


def write_source(name: str, folder: Path) -> Path:
    """The data set ``name`` as a CSV file with a ``target`` column."""
    import pandas as pd
    from sklearn import datasets

    if name == "friedman1":
        x, y = datasets.make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=0)
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    else:
        loader = {
            "breast-cancer": datasets.load_breast_cancer,
            "wine": datasets.load_wine,
            "digits": datasets.load_digits,
            "diabetes": datasets.load_diabetes,
        }[name]
        bunch = loader(as_frame=True)
        frame, y = bunch.data, bunch.target
    frame = frame.assign(target=y)
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def definition(source: str, csv: Path, folder: Path, *, tag: str, seed: int, trials: int, enqueue: list[Any]) -> Path:
    """The shipped ``csv`` study on ``csv`` over the space's default bounds."""
    task = SOURCES[source]
    metric = {"metric": "val_accuracy", "direction": "maximize"}
    if task == "regression":
        metric = {"metric": "val_rmse", "direction": "minimize"}
    tables: dict[str, Any] = {
        "name": f"{source}-{tag}",
        "description": f"portfolio source {source} ({tag})",
        "seed": seed,
        **metric,
        "data": {"kind": "csv", "path": str(csv), "target": "target", "task": task},
        "space": {"module": "spaces.mlp", "activation": ACTIVATIONS},
        "budget": {"trials": trials, "max_epochs": 100, "patience": 10},
    }
    tables["portfolio"] = False  # the portfolio is what is being chosen
    if enqueue:  # the cross-evaluation: every candidate trains to its end
        tables["enqueue"] = enqueue
        tables["pruner"] = {"name": "NopPruner"}
    return study_with("csv", folder / f"{source}-{tag}.toml", **tables)


def run_study(path: Path, folder: Path) -> list[tuple[dict[str, Any], float]]:
    """``python -m search run``; the complete trials' parameters and values, best first."""
    import optuna

    storage = f"sqlite:///{folder / f'{path.stem}.db'}"
    command = [sys.executable, "-m", "search", "run", str(path), "--storage", storage, "--no-progress"]
    with (folder / f"{path.stem}.log").open("w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=os.environ).returncode
    if code != 0:
        raise SystemExit(f"error: {path.stem} failed with exit status {code}; see {folder / f'{path.stem}.log'}")
    study = optuna.load_study(study_name=path.stem, storage=storage)
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done = [
        (t.params, float(t.value))
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.value is not None
    ]
    return sorted(done, key=lambda pair: -pair[1] if maximize else pair[1])


def regrets(values: dict[str, list[float]]) -> dict[str, list[float]]:
    """Per data set, each candidate's value as a regret in [0, 1] (``values`` are oriented: higher is better).

    Examples:
        >>> regrets({"a": [0.9, 0.8, 0.7]})
        {'a': [0.0, 0.5, 1.0]}
    """
    out = {}
    for name, row in values.items():
        best, worst = max(row), min(row)
        out[name] = [0.0 if best == worst else round((best - v) / (best - worst), 4) for v in row]
    return out


def greedy(regret: dict[str, list[float]], size: int) -> list[int]:
    """Candidates (indices) in the order the greedy portfolio takes them.

    Examples:
        >>> greedy({"a": [0.0, 1.0, 0.5], "b": [1.0, 0.0, 0.5]}, 3)
        [2, 0, 1]
    """
    count = len(next(iter(regret.values())))
    chosen: list[int] = []
    score = float("inf")
    while len(chosen) < size:

        def mean_with(c: int) -> float:
            return sum(min(row[i] for i in [*chosen, c]) for row in regret.values()) / len(regret)

        best = min((c for c in range(count) if c not in chosen), key=mean_with, default=None)
        if best is None or mean_with(best) >= score:
            break
        chosen.append(best)
        score = mean_with(best)
    return chosen


def table(result: dict[str, Any]) -> str:
    """The regret table (candidates as rows, data sets as columns) and the chosen portfolio."""
    sources = list(result["values"])
    regret = regrets(result["oriented"])
    lines = ["| candidate (from) | " + " | ".join(sources) + " | mean regret | portfolio |"]
    lines.append("| --- |" + " ---: |" * (len(sources) + 2))
    order = result["chosen"]
    for i, (origin, _) in enumerate(result["candidates"]):
        cells = [f"{result['values'][s][i]:.4g} ({regret[s][i]:.2f})" for s in sources]
        mean = sum(regret[s][i] for s in sources) / len(sources)
        rank = order.index(i) + 1 if i in order else "-"
        lines.append(f"| {i} ({origin}) | " + " | ".join(cells) + f" | {mean:.2f} | {rank} |")
    lines.append("")
    lines.append("PORTFOLIO = [")
    for i in order:
        lines.append(f"    {json.dumps(result['candidates'][i][1], sort_keys=True)},")
    lines.append("]")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=30, help="trials of each source data set's search")
    parser.add_argument("--top", type=int, default=2, help="candidates kept per source data set")
    parser.add_argument("--size", type=int, default=6, help="configurations in the portfolio, at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--out", type=Path, help="results as JSON")
    parser.add_argument("--table", type=Path, metavar="JSON", help="only print the table of an earlier --out")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    sources = args.sources.split(",")
    with tempfile.TemporaryDirectory(prefix="portfolio-") as tmp:
        folder = Path(tmp)
        files = {s: write_source(s, folder) for s in sources}
        candidates: list[tuple[str, dict[str, Any]]] = []
        for source in sources:
            print(f"search {source}: {args.trials} trials", file=sys.stderr, flush=True)
            path = definition(
                source, files[source], folder, tag="search", seed=args.seed, trials=args.trials, enqueue=[]
            )
            for params, _ in run_study(path, folder)[: args.top]:
                if all(params != known for _, known in candidates):
                    candidates.append((source, params))
        values: dict[str, list[float]] = {}
        oriented: dict[str, list[float]] = {}
        sets = [params for _, params in candidates]
        for source in sources:
            print(f"cross-evaluate {len(sets)} candidates on {source}", file=sys.stderr, flush=True)
            path = definition(
                source, files[source], folder, tag="cross", seed=args.seed, trials=len(sets), enqueue=sets
            )
            found = run_study(path, folder)
            by_params = {json.dumps(p, sort_keys=True): v for p, v in found}
            row = [by_params.get(json.dumps(p, sort_keys=True)) for p in sets]
            missing = [i for i, v in enumerate(row) if v is None]
            if missing:  # a candidate that failed or was pruned on this data set counts as its worst
                print(f"  {source}: candidates {missing} did not complete", file=sys.stderr)
            known = [v for v in row if v is not None]
            worst = min(known) if SOURCES[source] == "classification" else max(known)
            values[source] = [worst if v is None else v for v in row]
            sign = 1 if SOURCES[source] == "classification" else -1
            oriented[source] = [sign * v for v in values[source]]
        result = {"candidates": candidates, "values": values, "oriented": oriented}
        result["chosen"] = greedy(regrets(oriented), args.size)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    print(table(result))


if __name__ == "__main__":
    main()
