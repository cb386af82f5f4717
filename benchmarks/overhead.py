"""Framework overhead per trial: time inside training against time outside it, early and late in a study.

Two studies, each in one process with a SQLite file, as a user would run them:

- ``--study imdb-bow`` (the shipped study, its real trials): trials around number 10 are
  measured; then the study is filled up with finished trials to number ``--at``'s last value
  (copies of the real trials' parameters, values, per-epoch values and user attributes, added
  with ``study.add_trials``, so that TPE's sampling, the pruner's reads and the storage reads
  cost what they cost in a study that long) and the next real trials are measured;
- ``--study tiny`` (the default): a define-by-run Keras MLP of 2-16 units on 2,000 random rows
  of 20 features, 2 epochs, batch 256, run by :func:`search.tune` for ``--trials`` trials: almost
  nothing but overhead, to see its absolute size.

For each trial:

- **cycle**: the wall time from the previous trial's end to this trial's end (sampling,
  storage writes, building, compiling, training, checkpoints, dashboard figure and
  note, memory clean-up: everything a trial costs);
- **inside training**: the sum of its epochs' wall times (``epoch_time``, training and
  validation batches), less the compilation that Keras does in the first epoch;
- **compile**: the first epoch's time less the median of the later epochs;
- **outside**: cycle less inside training (compile counted outside, as the framework's).

The table shows the mean of each over the trials around the ones asked for (``--at``).

Usage::

    python benchmarks/overhead.py --study imdb-bow [--at 10,1000] [--measured 10]
    python benchmarks/overhead.py [--trials 1000] [--at 10,1000] [--backend jax] [--no-freeze]

``--no-freeze`` turns off the collector freeze (``search.models.freeze_long_lived``), to
measure what it saves.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from typing import Any


def _build(trial: Any) -> Any:
    import keras

    units = trial.suggest_int("units", 2, 16, log=True)
    model = keras.Sequential(
        [keras.Input((20,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1, activation="sigmoid")]
    )
    lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _fill(study: Any, up_to: int) -> None:
    """Add finished copies of ``study``'s real trials (params, values, curves, attributes) up to ``up_to`` trials."""
    import optuna

    state = optuna.trial.TrialState
    real = [t for t in study.get_trials(deepcopy=False) if t.state in (state.COMPLETE, state.PRUNED)]
    copies = []
    for i in range(up_to - len(study.trials)):
        t = real[i % len(real)]
        copies.append(
            optuna.trial.create_trial(
                state=t.state,
                value=t.value,
                params=t.params,
                distributions=t.distributions,
                intermediate_values=t.intermediate_values,
                user_attrs={**t.user_attrs, "overhead_copy": True},
            )
        )
    study.add_trials(copies)


def _rows(trials: list[Any]) -> list[dict[str, float]]:
    """Per trial: cycle, inside training, compile (see the module docstring)."""
    rows = []
    for previous, trial in itertools.pairwise(sorted(trials, key=lambda t: t.number)):
        if previous.datetime_complete is None or trial.datetime_complete is None:
            continue
        cycle = (trial.datetime_complete - previous.datetime_complete).total_seconds()
        epochs = trial.user_attrs.get("history", {}).get("epoch_time", [])
        if len(epochs) < 2 or cycle <= 0:
            continue
        compile_s = max(0.0, epochs[0] - statistics.median(epochs[1:]))
        inside = sum(epochs) - compile_s
        if not previous.user_attrs.get("overhead_copy"):  # after a filled-in copy: the start-up, not a cycle
            rows.append({"number": trial.number, "cycle": cycle, "inside": inside, "compile": compile_s})
    return rows


def _table(rows: list[dict[str, float]], at: list[int], window: int) -> None:
    print(
        "| around trial | trials | cycle (s) | inside training (s) | compile (s) | outside training (s) "
        "| outside share | outside less compile |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for number in at:
        near = [r for r in rows if number - window // 2 <= r["number"] < number + window] or rows[-window:]
        cycle = statistics.mean(r["cycle"] for r in near)
        inside = statistics.mean(r["inside"] for r in near)
        compile_s = statistics.mean(r["compile"] for r in near)
        outside = cycle - inside
        print(
            f"| {number} | {len(near)} | {cycle:.3f} | {inside:.3f} | {compile_s:.3f} | {outside:.3f} "
            f"| {outside / cycle:.1%} | {(outside - compile_s) / cycle:.1%} |"
        )
    sys.stdout.flush()


def study_overhead(name: str, at: list[int], measured: int) -> None:
    """The shipped study ``name``: real trials early, then again after filling it up to ``at[-1]`` trials."""
    import optuna

    from search import run_study

    folder = tempfile.mkdtemp(prefix="overhead-")
    os.environ.setdefault("SEARCH_HOME", folder)
    storage = f"sqlite:///{folder}/studies.db"
    start = time.perf_counter()
    first = at[0] + measured // 2
    study = run_study(name, n_trials=first, storage=storage, workers=1, show_progress=False)
    early = _rows(study.trials)
    _fill(study, at[-1] - measured // 2)
    study = run_study(name, n_trials=at[-1] + measured // 2, storage=storage, workers=1, show_progress=False)
    late = [r for r in _rows(study.trials) if r["number"] >= at[-1] - measured // 2]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(
        f"study {name}: {len(study.trials)} trials ({len(early) + len(late)} measured) in "
        f"{time.perf_counter() - start:.0f} s, one process, SQLite"
    )
    _table(early + late, at, measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="tiny", help="tiny (default) or a shipped study, e.g. imdb-bow")
    parser.add_argument("--trials", type=int, default=1000, help="trials of the tiny study")
    parser.add_argument("--at", default="10,1000", help="trial numbers to report around")
    parser.add_argument("--measured", type=int, default=10, help="real trials measured around each (shipped study)")
    parser.add_argument("--backend", default="jax", choices=("jax", "tensorflow"))
    parser.add_argument("--no-freeze", action="store_true", help="do not freeze the collector (the cut measured)")
    args = parser.parse_args()
    at = [int(a) for a in args.at.split(",")]
    if args.study != "tiny":
        study_overhead(args.study, at, args.measured)
        return
    os.environ["KERAS_BACKEND"] = args.backend

    import numpy as np
    import optuna

    import search.models._training as training
    from search import tune

    if args.no_freeze:
        training._frozen = True  # freeze_long_lived() then does nothing
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 20)).astype("float32")
    y = (x[:, :3].sum(axis=1) > 0).astype("float32")
    folder = tempfile.mkdtemp(prefix="overhead-")
    os.environ.setdefault("SEARCH_HOME", folder)
    storage = f"sqlite:///{folder}/studies.db"
    start = time.perf_counter()
    study = tune(
        _build,
        x,
        y,
        validation_split=0.2,
        metric="val_accuracy",
        n_trials=args.trials,
        max_epochs=2,
        patience=2,
        batch_size=256,
        storage=storage,
        study_name="overhead",
        pruner={"name": "NopPruner"},
        show_progress=False,
    )
    wall = time.perf_counter() - start
    freeze = "off" if args.no_freeze else "on"
    print(f"{len(study.trials)} trials in {wall:.0f} s, backend {args.backend}, collector freeze {freeze}")
    _table(_rows(study.trials), at, 10)


if __name__ == "__main__":
    main()
