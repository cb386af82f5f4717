"""The Python API fails as the command line does: one line, the user's own error kept, nothing written or left."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import optuna
import pytest

from search import InputError, RunError, evaluate_holdout, load_predictor, run_study, tune

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("float32")


def build(trial: optuna.trial.BaseTrial) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(trial.suggest_int("units", 2, 8)),
                              keras.layers.Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def suggests_twice(trial: optuna.trial.BaseTrial) -> keras.Model:
    trial.suggest_int("units", 2, 8)
    trial.suggest_float("units", 0.1, 0.9)  # the same name, another distribution
    return build(trial)


def always_fails(trial: optuna.trial.BaseTrial) -> keras.Model:
    raise ValueError("my build function is not ready")


def nothing_left(folder: Path) -> None:
    """No study database, artifacts or SQLite side files in ``folder``."""
    assert sorted(p.name for p in folder.iterdir() if p.name != "home") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"direction": "sideways"}, "direction must be 'maximize' or 'minimize', got 'sideways'"),
        ({"validation_split": 0.3, "validation_data": (X[:20], Y[:20])}, "validation_data or validation_split"),
        ({"build": suggests_twice}, "the build function suggests_twice fails: ValueError: Cannot set different"),
        ({"build": always_fails}, "fails: ValueError: my build function is not ready"),
        (
            {"pruner": {"name": "MedianPruner", "n_warmup_steps": -1}},
            "tune(): 'pruner.n_warmup_steps' must be at least",
        ),
    ],
)
def test_bad_tune_arguments_are_one_line_before_any_write(tmp_path: Path, change: dict, message: str) -> None:
    arguments = {"build": build, "metric": "val_accuracy", "n_trials": 1, "max_epochs": 1} | change
    with pytest.raises(InputError) as info:
        tune(arguments.pop("build"), X, Y, storage=f"sqlite:///{tmp_path / 'studies.db'}", **arguments)
    assert message in str(info.value) and "\n" not in str(info.value)
    nothing_left(tmp_path)


def test_a_build_function_that_fails_in_its_trials_is_quoted_with_its_own_frames(tmp_path: Path) -> None:
    calls = []

    def flaky(trial: optuna.trial.BaseTrial) -> keras.Model:
        calls.append(trial.number)
        if trial.study.study_name == "tune-flaky":  # the checks' throw-away trials pass; every trial of the study fails
            raise ZeroDivisionError(f"my layer sizes broke at call {len(calls)}")
        return build(trial)

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with pytest.raises(RunError, match="trials in a row failed; the last one: ZeroDivisionError: my layer sizes"):
        tune(flaky, X, Y, metric="val_accuracy", n_trials=1, max_epochs=1, storage=url, show_progress=False)
    assert not Path(f"{tmp_path / 'studies.db'}-wal").exists()
    trial = optuna.load_study(study_name="tune-flaky", storage=url).trials[-1]
    assert trial.state.name == "FAIL"
    assert trial.user_attrs["error"].startswith("ZeroDivisionError: my layer sizes broke at call")
    assert "test_api_errors.py" in trial.user_attrs["error_traceback"]  # the user's frame, where the fix is
    assert "search/engine" not in trial.user_attrs["error_traceback"]


def test_python_calls_leave_no_sqlite_side_files(tmp_path: Path) -> None:
    db = tmp_path / "studies.db"
    url = f"sqlite:///{db}"
    tune(build, X, Y, metric="val_accuracy", n_trials=1, max_epochs=1, storage=url, show_progress=False,
         test_data=(X[:50], Y[:50]), study_name="mine")  # fmt: skip
    evaluate_holdout("mine", storage=url, show_progress=False)
    load_predictor("mine", storage=url)
    with pytest.raises(InputError, match="no study 'missing'"):
        evaluate_holdout("missing", storage=url)
    with pytest.raises(InputError, match="no holdout model"):
        load_predictor("mine", storage=url, ensemble=3)
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


def test_a_damaged_model_file_is_one_line(storage: str) -> None:
    run_study("iris", n_trials=1, storage=storage, show_progress=False, overrides={"max_epochs": 2})
    result = evaluate_holdout("iris", storage=storage, show_progress=False)
    model = Path(result["model_path"])
    blob = model.read_bytes()
    model.write_bytes(blob[: len(blob) // 2])  # truncated
    with pytest.raises(InputError, match="does not match the SHA-256") as info:
        load_predictor("iris", storage=storage)
    assert "\n" not in str(info.value)
    import hashlib

    study = optuna.load_study(study_name="iris", storage=storage)
    study.set_user_attr("holdout", result | {"model_sha256": hashlib.sha256(model.read_bytes()).hexdigest()})
    with pytest.raises(
        InputError, match="is not a readable .keras model"
    ) as info:  # digest matches, file does not load
        load_predictor("iris", storage=storage)
    assert "\n" not in str(info.value)


def test_load_predictor_names_the_holdouts_a_study_has(storage: str) -> None:
    run_study("iris", n_trials=3, storage=storage, show_progress=False, overrides={"max_epochs": 2, "cv": 2})
    evaluate_holdout("iris", storage=storage, ensemble=2, show_progress=False)
    with pytest.raises(InputError) as info:
        load_predictor("iris", storage=storage)
    assert str(info.value) == (
        "study 'iris' has no holdout model yet (it has: load_predictor('iris', ensemble=2)); "
        "run: python -m search holdout iris"
    )
    assert load_predictor("iris", storage=storage, ensemble=2).task.kind == "multiclass"
