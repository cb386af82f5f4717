"""Epoch times of ``imdb-bow`` MLPs on one core: dense rows, sparse rows a step per call, sparse compiled epochs.

One ``spaces.mlp`` model per (units, batch) (one hidden layer, input dropout 0.3,
dropout 0.2, learning rate 1e-3), trained on the study's own split (15,000
partial-train / 10,000 validation reviews, 10,000-word multi-hot rows) for
``--epochs`` epochs, validation included, in a fresh process per way pinned to one
core. The ways: ``dense`` (dense rows, :func:`search.models.train`), ``sparse-fit``
(sparse rows through ``model.fit(**fit_arguments(...))``: Keras' own loop on the SciPy
rows as they are, one step per Python call, compiled again on JAX for each new number of
stored values in a batch) and ``sparse`` (sparse rows, :func:`search.models.train`: one
compiled call per epoch, what the framework trains with). "first" includes
compiling; "later" is the median of the other epochs.

Usage::

    python benchmarks/epochs.py [--units 16,128] [--batches 32,128,512] [--epochs 4] [--core 0]

Environment: ``SEARCH_DATA_DIR`` (folder of ``aclImdb_v1.tar.gz``) and ``SEARCH_CACHE_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = {"input_dropout": 0.3, "dropout": 0.2, "l1": 0.0, "l2": 0.0, "activation": "relu", "learning_rate": 1e-3}


WAYS = ("dense", "sparse-fit", "sparse")


def _child(way: str, units: list[int], batches: list[int], epochs: int) -> None:
    import numpy as np

    from search.data import load_search_data
    from search.engine import load_study_config
    from search.models import epoch_recorder, free_memory, set_seed, train
    from search.models._training import fit_arguments
    from spaces import mlp

    sparse = way != "dense"
    config = load_study_config("imdb-bow", data={"sparse": sparse})
    data = load_search_data(config.data, seed=config.seed)
    y_train, y_val = data.y_train.astype(np.float32), data.y_val.astype(np.float32)
    rows = []
    for width in units:
        for batch in batches:
            model_config = {**MODEL, "layer_units": [width], "batch_size": batch}
            set_seed(0)
            model = mlp.build(model_config, input_shape=(data.x_train.shape[1],), task=data.task, sparse=sparse)
            recorder = epoch_recorder()
            if way == "sparse-fit":
                model.fit(
                    **fit_arguments(data.x_train, y_train, batch_size=batch, validation=(data.x_val, y_val)),
                    epochs=epochs,
                    callbacks=[recorder],
                    verbose=0,
                )
            else:
                train(
                    model,
                    data.x_train,
                    y_train,
                    batch_size=batch,
                    seed=0,
                    epochs=epochs,
                    validation=(data.x_val, y_val),
                    callbacks=[recorder],
                )
            times = recorder.history["epoch_time"]
            rows.append({"units": width, "batch": batch, "first": times[0], "later": statistics.median(times[1:])})
            free_memory()
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="16,128")
    parser.add_argument("--batches", default="32,128,512")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--core", type=int, default=0, help="the core every run is pinned to")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    units = [int(u) for u in args.units.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    if args.child:
        _child(args.child, units, batches, args.epochs)
        return
    results = {}
    for way in WAYS:
        command = [sys.executable, __file__, "--child", way, "--units", args.units, "--batches", args.batches]
        command += ["--epochs", str(args.epochs)]
        env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO))
        out = subprocess.run(
            ["taskset", "-c", str(args.core), *command], capture_output=True, text=True, env=env, cwd=REPO
        )
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        results[way] = {(r["units"], r["batch"]): r for r in json.loads(out.stdout.strip().splitlines()[-1])}
    print("| units | batch | " + " | ".join(f"{way}: first epoch, later epochs" for way in WAYS) + " |")
    print("| ---: | ---: |" + " --- |" * len(WAYS))
    for key in results["dense"]:
        cells = [f"{results[way][key]['first']:.2f} s, {results[way][key]['later']:.3f} s" for way in WAYS]
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
