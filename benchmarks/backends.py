"""Epoch times of ``imdb-ngrams`` models (sparse inputs) on Keras' TensorFlow and JAX backends.

Each backend runs in its own fresh subprocess, one after the other, on the same machine. Each trains
the same configurations of ``spaces.bow`` (the shipped study's seeded stratified split: 15,000 training
reviews, 10,000 validation reviews) through the framework's training path (``search.models._training``: on JAX,
full batches as ``BCOO`` arrays whose stored values are padded to a few sizes) for ``--epochs``
epochs, and records each epoch's wall time, validation included. The first epoch includes the
compilation of the train and test steps.

Usage::

    python benchmarks/backends.py [--epochs 3] [--backends tensorflow,jax] [--threads 1]

Environment: ``SEARCH_DATA_DIR`` (folder of ``aclImdb_v1.tar.gz``) and ``SEARCH_CACHE_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# The queued recipe of studies/imdb-ngrams.toml, a large-vocabulary small-batch trial like the best
# ones of the measured runs, and a small unigram one.
CONFIGS: list[dict[str, Any]] = [
    {"vocab_size": 20000, "ngrams": 2, "mode": "tf-idf", "layer_units": [64, 64], "batch_size": 128},
    {"vocab_size": 45000, "ngrams": 2, "mode": "tf-idf", "layer_units": [59, 53], "batch_size": 32},
    {"vocab_size": 5000, "ngrams": 1, "mode": "multi-hot", "layer_units": [16], "batch_size": 256},
]
MODEL = {"input_dropout": 0.2, "dropout": 0.2, "l1": 0.0, "l2": 0.0, "activation": "relu", "learning_rate": 1e-3}


def _child(epochs: int) -> None:
    import keras
    import numpy as np

    from search.data._bow import load_imdb_ngrams
    from search.data._loaders import split_train_validation
    from search.data._task import Task
    from search.models import epoch_recorder, free_memory, set_seed, train
    from spaces import bow

    arrays = load_imdb_ngrams(max_vocab=50000, ngrams=(1, 2))
    fit, val = split_train_validation(arrays.y_train, validation_size=10000, seed=42)  # the study's split
    fit_rows, val_rows = arrays.x_train[fit], arrays.x_train[val]
    y_fit, y_val = arrays.y_train[fit].astype(np.float32), arrays.y_train[val].astype(np.float32)
    results = []
    for representation in CONFIGS:
        config = {**MODEL, **representation}
        x_fit, x_val = bow.features(config, fit_rows, val_rows)
        set_seed(0)
        model = bow.build(config, input_shape=(x_fit.shape[1],), task=Task("binary"))
        recorder = epoch_recorder()
        start = time.perf_counter()
        train(
            model,
            x_fit,
            y_fit,
            batch_size=config["batch_size"],
            seed=0,
            epochs=epochs,
            validation=(x_val, y_val),
            callbacks=[recorder],
        )
        results.append(
            {
                "config": representation,
                "epoch_time": recorder.history["epoch_time"],
                "total": time.perf_counter() - start,
                "val_accuracy": recorder.history["val_accuracy"],
            }
        )
        free_memory()
    print(json.dumps({"backend": keras.backend.backend(), "results": results}))


def _describe(config: dict[str, Any]) -> str:
    words = "words and bigrams" if config["ngrams"] == 2 else "words"
    units = "-".join(str(u) for u in config["layer_units"])
    return f"{config['vocab_size']:,} {words}, {config['mode']}, {units} units, batch {config['batch_size']}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--threads", type=int, default=1, help="CPU cores each backend may use (taskset)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.epochs)
        return
    runs: dict[str, dict[str, Any]] = {}
    for backend in args.backends.split(","):
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        command = [sys.executable, __file__, "--child", "--epochs", str(args.epochs)]
        if args.threads and hasattr(os, "sched_getaffinity"):
            cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[: args.threads])
            command = ["taskset", "-c", cores, *command]
        done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{backend} failed: {done.stderr.strip().splitlines()[-1]}")
        runs[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"| configuration | {' | '.join(f'{b}: first epoch, later epochs (s)' for b in runs)} |")
    print(f"| --- |{' --- |' * len(runs)}")
    for i, config in enumerate(CONFIGS):
        cells = []
        for run in runs.values():
            times = run["results"][i]["epoch_time"]
            later = sum(times[1:]) / max(len(times) - 1, 1)
            accuracy = run["results"][i]["val_accuracy"][-1]
            cells.append(f"{times[0]:.1f}, {later:.1f} (val acc {accuracy:.4f})")
        print(f"| {_describe(config)} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
