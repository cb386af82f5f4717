"""Ways to train a cross-validated study's final model, compared by nested cross-validation (no test rows).

For configurations drawn at random from a study's space (``auto-mpg`` by default), each
of the study's folds of the training rows is held out whole in turn (the outer fold);
on the other rows, 5 inner folds train one model each (early stopping on the inner
validation fold with the study's ``patience`` and ``max_epochs``) and the average of the
5 inner models is scored once on the outer fold. The RMSE is pooled over the outer
folds; every way sees the same configurations, rows and seeds. The ways:

- ``shipped``: what ``holdout`` of a ``cv`` study does: every model from the trial's
  seed, restored to its own best epoch on its validation fold.
- ``common-epoch``: the same models, each at the one epoch that minimizes the mean of
  the inner validation curves (``xgboost.cv``'s best iteration).
- ``fold-seeds``: each inner model from its own seed.
- ``plateau``: ``ReduceLROnPlateau`` (``val_loss``, factor 0.5, patience 8, down to 1e-5).
- ``input-noise``: ``GaussianNoise(0.1)`` on the standardized inputs while training.
- ``scaled-l1l2``: L1 and L2 strengths times the variance of the fold's targets, as if
  the squared error were measured in standard deviations of the target.

Usage::

    python benchmarks/nested_cv.py [--study auto-mpg] [--seed 42] [--configs 8] [--ways shipped,plateau]

Environment: ``SEARCH_DATA_DIR`` (folder of ``auto-mpg.csv``). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

WAYS = ("shipped", "common-epoch", "fold-seeds", "plateau", "input-noise", "scaled-l1l2")
INNER_FOLDS = 5
FOLD_SEED_STEP = 1_000


def _train_inner(way: str, space: Any, model_config: dict[str, Any], fold: Any, *, seed: int, study: Any) -> Any:
    """The inner models of one outer fold, trained ``way``: per model, its validation curve and weights per epoch."""
    import keras
    import numpy as np
    from sklearn.model_selection import KFold

    from search.models import compile_for_task, set_seed, train

    class Keep(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.weights: list[Any] = []

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.weights.append(self.model.get_weights())

    models = []
    for j, (fit, stop) in enumerate(KFold(INNER_FOLDS, shuffle=True, random_state=seed).split(fold.x_train)):
        model_seed = seed + (FOLD_SEED_STEP * j if way == "fold-seeds" else 0)
        task = fold.task.fitted(fold.y_train[fit])
        config = dict(model_config)
        if way == "scaled-l1l2":
            config.update(l1=config["l1"] * task.target_scale**2, l2=config["l2"] * task.target_scale**2)
        set_seed(model_seed)
        model = space.build(config, input_shape=fold.input_shape, task=task)
        if way == "input-noise":
            inputs = keras.Input(shape=fold.input_shape)
            model = compile_for_task(keras.Model(inputs, model(keras.layers.GaussianNoise(0.1)(inputs))), config, task)
        keep = Keep()
        callbacks = [keras.callbacks.EarlyStopping(monitor=study.monitored, patience=study.patience), keep]
        if way == "plateau":
            callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=8, min_lr=1e-5))
        history = train(
            model,
            fold.x_train[fit],
            fold.y_train[fit],
            batch_size=config["batch_size"],
            seed=model_seed,
            epochs=study.max_epochs,
            validation=(fold.x_train[stop], fold.y_train[stop]),
            callbacks=callbacks,
        )
        models.append((model, np.asarray(history.history[study.monitored]), keep.weights))
    return models


def _committee_rmse(models: list[Any], fold: Any, *, common: bool) -> float:
    """Squared error summed over the outer fold's rows of the inner models' average."""
    import numpy as np

    shortest = min(len(curve) for _, curve, _ in models)
    epoch = int(np.argmin(np.mean([curve[:shortest] for _, curve, _ in models], axis=0)))
    predictions = []
    for model, curve, weights in models:
        model.set_weights(weights[epoch if common else int(np.argmin(curve))])
        predictions.append(np.asarray(model.predict(fold.x_val, verbose=0)).reshape(-1))
    return float(np.sum((np.mean(predictions, axis=0) - fold.y_val) ** 2))


def main() -> None:
    """Print one row per configuration (each way's nested RMSE) and a summary against ``shipped``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", default="auto-mpg")
    parser.add_argument("--seed", type=int, default=42, help="the study's seed: its split and folds")
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    ways = args.ways.split(",")
    if ways[0] != "shipped" or not set(ways) <= set(WAYS):
        parser.error(f"--ways: 'shipped' first, then any of {', '.join(WAYS)}")
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import numpy as np
    import optuna

    from search.data import load_search_data
    from search.engine import load_study_config
    from search.models import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study_config(args.study, seed=args.seed)
    data = load_search_data(study.data, seed=args.seed, cv=study.cv)
    if study.cv < 2 or data.task.kind != "regression" or study.monitor_direction != "minimize":
        parser.error(f"--study: {args.study} is not a cross-validated regression stopped on a value to minimize")
    space = load_space(study.space_module)
    sampler = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=args.seed))
    print(f"{args.study}, seed {args.seed}: RMSE of the inner committee on the outer folds, pooled")
    print("| configuration | " + " | ".join(ways) + " |")
    print("| --- |" + " ---: |" * len(ways))
    results: dict[str, list[float]] = {way: [] for way in ways}
    start = time.perf_counter()
    for number in range(args.configs):
        trial = sampler.ask()
        model_config = space.suggest(trial, study.space_bounds)
        squared = dict.fromkeys(ways, 0.0)
        for index, fold in enumerate(data.folds):
            seed = args.seed + number + 100 * index
            trained: dict[str, Any] = {}
            for way in ways:
                kind = "shipped" if way == "common-epoch" else way
                if kind not in trained:
                    trained[kind] = _train_inner(kind, space, model_config, fold, seed=seed, study=study)
                squared[way] += _committee_rmse(trained[kind], fold, common=way == "common-epoch")
        rows = sum(len(fold.y_val) for fold in data.folds)
        for way in ways:
            results[way].append((squared[way] / rows) ** 0.5)
        sampler.tell(trial, 0.0)
        described = f"{model_config['layer_units']} {model_config['activation']}, batch {model_config['batch_size']}"
        print(f"| {described} | " + " | ".join(f"{results[way][-1]:.4f}" for way in ways) + " |", flush=True)
    shipped = np.array(results["shipped"])
    print(
        f"| **mean** ({time.perf_counter() - start:.0f} s) | "
        + " | ".join(f"**{np.mean(results[way]):.4f}**" for way in ways)
        + " |"
    )
    print(
        "| lower than shipped | | "
        + " | ".join(f"{int((np.array(results[way]) < shipped).sum())} of {len(shipped)}" for way in ways[1:])
        + " |"
    )


if __name__ == "__main__":
    main()
