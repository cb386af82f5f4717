"""Framework overhead per trial: time inside training against time outside it, early and late in a study.

A study of tiny models (a define-by-run Keras MLP of 2-16 units on 2,000 random rows
of 20 features, 2 epochs, batch 256), run by :func:`search.tune` in one process with
a SQLite file, as a user would. For each trial:

- **cycle**: the wall time from the previous trial's end to this trial's end (sampling,
  storage writes, building, compiling, training, checkpoints, dashboard figure and
  note, memory clean-up: everything a trial costs);
- **inside training**: the sum of its epochs' wall times (``epoch_time``, training and
  validation batches), less the compilation that Keras does in the first epoch;
- **compile**: the first epoch's time less the median of the later epochs;
- **outside**: cycle less inside training (compile counted outside, as the framework's).

The table shows the mean of each over the trials around the ones asked for (``--at``).

Usage::

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--at", default="10,1000", help="trial numbers to report around (mean of 10 trials each)")
    parser.add_argument("--backend", default="jax", choices=("jax", "tensorflow"))
    parser.add_argument("--no-freeze", action="store_true", help="do not freeze the collector (the cut measured)")
    args = parser.parse_args()
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
    trials = sorted(study.trials, key=lambda t: t.number)
    rows = []
    for previous, trial in itertools.pairwise(trials):
        if previous.datetime_complete is None or trial.datetime_complete is None:
            continue
        cycle = (trial.datetime_complete - previous.datetime_complete).total_seconds()
        epochs = trial.user_attrs.get("history", {}).get("epoch_time", [])
        if len(epochs) < 2:
            continue
        compile_s = max(0.0, epochs[0] - statistics.median(epochs[1:]))
        inside = sum(epochs) - compile_s
        rows.append({"number": trial.number, "cycle": cycle, "inside": inside, "compile": compile_s})
    freeze = "off" if args.no_freeze else "on"
    print(f"{len(trials)} trials in {wall:.0f} s, backend {args.backend}, collector freeze {freeze}")
    print("| around trial | cycle (s) | inside training (s) | compile (s) | outside training (s) | outside share |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for at in (int(a) for a in args.at.split(",")):
        near = [r for r in rows if at - 5 <= r["number"] < at + 5] or rows[-10:]
        cycle = statistics.mean(r["cycle"] for r in near)
        inside = statistics.mean(r["inside"] for r in near)
        compile_s = statistics.mean(r["compile"] for r in near)
        outside = cycle - inside
        print(f"| {at} | {cycle:.3f} | {inside:.3f} | {compile_s:.3f} | {outside:.3f} | {outside / cycle:.0%} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
