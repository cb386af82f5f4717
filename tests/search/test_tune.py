"""``search.tune``: one's own Keras model on one's own data, in one process, in workers, on another machine."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import optuna
import pandas as pd
import pytest

from search import InputError, evaluate_holdout, load_predictor, tune
from tests._helpers import REPO, cli

RNG = np.random.default_rng(0)
X = RNG.normal(size=(360, 4)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("float32")
TRAIN, TEST = (X[:280], Y[:280]), (X[280:], Y[280:])

BUILD = """
import keras


def build(trial):
    units = trial.suggest_int("units", 4, 32, log=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    rate = trial.suggest_float("learning_rate", 1e-3, 3e-2, log=True)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model
"""
namespace: dict = {"__name__": "__main__"}
exec(BUILD, namespace)  # the same function as the scripts below define in their __main__: it travels pickled
build = namespace["build"]


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]


def test_numpy_in_one_process_with_val_auc_resumes_with_the_same_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    options = {"metric": "val_auc", "max_epochs": 3, "storage": url, "show_progress": False}
    hand_tuned = [{"units": 7}]  # tried first, the learning rate sampled
    study = tune(build, *TRAIN, test_data=TEST, n_trials=2, enqueue=hand_tuned, **options)
    assert study.direction.name == "MAXIMIZE" and len(_finished(study)) == 2
    assert study.trials[0].params["units"] == 7 and study.trials[0].user_attrs["enqueued"]
    best = study.best_trial
    assert best.value == max(best.user_attrs["history"]["val_auc"])  # the objective is the model's own metric
    assert best.user_attrs["config"]["batch_size"] == 32  # no batch_size suggested, none given: the default
    first = [t.params for t in study.trials]
    again = tune(build, *TRAIN, test_data=TEST, n_trials=3, enqueue=hand_tuned, **options)
    assert len(again.trials) == 3  # the budget is a total: one more trial, the queued set not again
    assert [t.params for t in again.trials[:2]] == first


def test_a_build_function_of_a_script_runs_in_two_workers_and_its_holdout_in_a_fresh_process(tmp_path: Path) -> None:
    script = tmp_path / "tune_me.py"
    np.savez(tmp_path / "data.npz", x=X, y=Y)
    script.write_text(
        BUILD
        + textwrap.dedent(
            """
        import sys
        import numpy as np
        from search import tune

        if __name__ == "__main__":
            data = np.load(sys.argv[1])
            x, y = data["x"], data["y"]
            extra = {"workers": 2, "memory_limit_mb": 5000}
            study = tune(build, x[:280], y[:280], test_data=(x[280:], y[280:]), metric="val_accuracy",
                         n_trials=4, max_epochs=2, storage=sys.argv[2], study_name="mine", show_progress=False,
                         **extra)
            print(len([t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]))
        """
        )
    )
    # two worker processes, each restarted once it grew by the memory limit: both paths of run_study at once
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run = __import__("subprocess").run(
        [sys.executable, str(script), str(tmp_path / "data.npz"), url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == "4"
    study = optuna.load_study(study_name="mine", storage=url)
    assert len({t.user_attrs["worker"]["pid"] for t in study.trials}) >= 2  # the trials ran in the workers
    # the function came from __main__: it travelled pickled, with its digest on the study
    assert study.user_attrs["config"]["space"]["module"].startswith("artifact:functions/")
    # (a stored definition is data: the pickled function and data are read only when this user's key signed
    # them, as here, or the process allows them; a process with another key is refused)
    other_user = {"SEARCH_KEY_FILE": str(tmp_path / "someone-else.key")}
    refused = cli("holdout", "mine", "--storage", url, "--json", cwd=tmp_path, env=other_user)
    assert refused.returncode == 2 and "--allow-module pickled" in refused.stderr.strip().splitlines()[-1]
    holdout = cli("holdout", "mine", "--storage", url, "--json", cwd=tmp_path)
    assert holdout.returncode == 0, holdout.stderr[-3000:]
    result = json.loads(holdout.stdout)
    assert result["n_train"] == 280 and result["n_test"] == 80 and 0.0 <= result["accuracy"] <= 1.0
    predictor = load_predictor("mine", storage=url)
    scores = predictor.predict_scores(TEST[0])
    assert scores.shape == (80, 1)


def test_a_shipped_space_by_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tune(
        "spaces.mlp",
        *TRAIN,
        test_data=TEST,
        bounds={"depth": [1, 1], "units": [4, 8]},
        metric="val_accuracy",
        n_trials=2,
        max_epochs=2,
        storage=url,
        show_progress=False,
    )
    assert len(_finished(study)) == 2 and study.study_name == "tune-mlp"
    assert all(t.user_attrs["portfolio"] for t in study.trials)  # a shipped space starts from its portfolio
    assert all(t.user_attrs["config"]["layer_units"][0] <= 8 for t in study.trials)
    assert evaluate_holdout("tune-mlp", storage=url, show_progress=False)["n_test"] == 80


def test_a_second_machine_joins_with_the_storage_url_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared' / 'studies.db'}"
    (tmp_path / "shared").mkdir()
    tune(build, *TRAIN, test_data=TEST, n_trials=1, max_epochs=2, storage=url, study_name="shared", show_progress=False)
    other = {"SEARCH_HOME": str(tmp_path / "machine-b"), "SEARCH_CACHE_DIR": str(tmp_path / "machine-b-cache")}
    other["SEARCH_ALLOW_MODULES"] = "pickled"  # machine B trusts this study's pickled build function and data
    joined = cli("worker", "shared", "--storage", url, "--trials", "3", "--json", env=other, cwd=tmp_path)
    assert joined.returncode == 0, joined.stderr[-3000:]
    study = optuna.load_study(study_name="shared", storage=url)
    assert len(_finished(study)) == 3
    assert {t.user_attrs["worker"]["pid"] for t in study.trials[1:]} != {study.trials[0].user_attrs["worker"]["pid"]}


def test_a_data_frame_with_a_text_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "colour": np.where(X[:, 2] > 0, "red", "blue"), "y": Y})

    def frame_model(trial: optuna.trial.BaseTrial) -> keras.Model:
        model = keras.Sequential([keras.layers.Dense(trial.suggest_int("units", 2, 8)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tune(
        frame_model,
        frame[:280],
        "y",
        test_data=(frame.drop(columns="y")[280:], Y[280:]),
        metric="val_accuracy",
        n_trials=2,
        max_epochs=2,
        storage=url,
        show_progress=False,
    )
    assert len(_finished(study)) == 2
    result = evaluate_holdout(study.study_name, storage=url, show_progress=False)
    assert result["n_test"] == 80
    predictor = load_predictor(study.study_name, storage=url)
    assert predictor.columns == ["a", "b", "colour"]
    assert predictor.predict(frame.drop(columns="y")[:3]).shape == (3,)


def test_tf_data_with_validation_data_and_streams_refused_for_workers(tmp_path: Path) -> None:
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices(TRAIN).batch(32)
    val = tf.data.Dataset.from_tensor_slices(TEST).batch(32)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tune(
        build,
        train,
        validation_data=val,
        task="binary",
        metric="val_accuracy",
        n_trials=2,
        max_epochs=2,
        storage=url,
        show_progress=False,
    )
    assert len(_finished(study)) == 2

    def batches():  # a generator function: called once per epoch
        for start in range(0, 280, 40):
            yield X[start : start + 40], Y[start : start + 40]

    with pytest.raises(InputError, match="cannot go to worker processes") as refused:
        tune(build, batches, validation_data=val, task="binary", workers=2, storage=url, study_name="g")
    assert "\n" not in str(refused.value)
    with pytest.raises(InputError, match="needs validation_data"):
        tune(build, train, task="binary", storage=url, study_name="g")
    assert optuna.get_all_study_names(url) == [study.study_name]  # nothing written by the refusals


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "val_f1"}, "metric 'val_f1' is not logged by the model"),
        ({"metric": "val_wobble"}, "cannot tell whether metric 'val_wobble'"),
        ({"y": Y[:10]}, "280 inputs but 10 targets"),
        ({"x": np.full((280, 4), np.nan, dtype="float32")}, "NaN or infinite"),
        ({"n_trials": 0}, "n_trials must be a positive integer"),
        ({"build": lambda trial: "not a model"}, "returned str, not a keras.Model"),
        ({"enqueue": [{"units": 7, "width": 3}]}, "enqueue set 1: the space samples no parameter 'width'"),
    ],
)
def test_bad_input_is_one_line_before_any_write(tmp_path: Path, change: dict, message: str) -> None:
    arguments = {"build": build, "x": TRAIN[0], "y": TRAIN[1], "metric": "val_accuracy"} | change
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with pytest.raises(InputError, match=message) as info:
        tune(
            arguments.pop("build"),
            arguments.pop("x"),
            arguments.pop("y"),
            storage=url,
            show_progress=False,
            **arguments,
        )
    assert "\n" not in str(info.value)
    assert not (tmp_path / "studies.db").exists() and not list(tmp_path.iterdir())


def test_the_readme_quickstart_for_ones_own_model_runs(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- own-model quickstart -->")
    block = readme[
        readme.index("```python", start) + len("```python") : readme.index("```", readme.index("```python", start) + 9)
    ]
    assert len(block.strip().splitlines()) <= 15
    env = {**os.environ, "SEARCH_HOME": str(tmp_path / "home")}
    run = __import__("subprocess").run(
        [sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "holdout accuracy" in run.stdout
