"""The trust boundary: a stored definition is data; a file from storage is read only if its digest matches."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import numpy as np
import optuna
import pytest

from search import InputError, evaluate_holdout, join_study, load_predictor, run_study, tune
from search.engine._artifacts import default_location
from search.engine._study import stored_config
from tests._helpers import cli, sqlite_rows


def test_a_tampered_stored_definition_does_not_import_its_module(make_study, tmp_path: Path) -> None:
    db = tmp_path / "studies.db"
    url = f"sqlite:///{db}"
    run_study(make_study(trials=1, max_epochs=2), storage=url, show_progress=False)
    study = optuna.load_study(study_name="synthetic", storage=url)
    config = study.user_attrs["config"]
    study.set_user_attr("config", config | {"space": {**config["space"], "module": "antigravity"}})
    before = sqlite_rows(db)
    for command in (
        ["worker", "synthetic", "--storage", url, "--trials", "2"],
        ["holdout", "synthetic", "--storage", url],
    ):
        result = cli(*command, cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result.stderr[-2000:]
        assert lines[-1] == (
            "error: the study's definition names space module 'antigravity', which this process does not trust: "
            "allow it with --allow-module antigravity (or SEARCH_ALLOW_MODULES=antigravity)"
        )
        assert "Traceback" not in result.stderr
        assert sqlite_rows(db) == before


def test_a_tampered_pickle_is_refused(tmp_path: Path) -> None:
    import keras

    def build(trial: optuna.trial.BaseTrial) -> keras.Model:
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(trial.suggest_int("units", 1, 4)), keras.layers.Dense(1)]
        )
        model.compile(optimizer="adam", loss="mse")
        return model

    x = np.random.default_rng(0).normal(size=(60, 3)).astype("float32")
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    tune(
        build,
        x,
        x[:, 0] * 1.5,
        test_data=(x[:10], x[:10, 0]),
        n_trials=1,
        max_epochs=1,
        storage=url,
        study_name="mine",
        show_progress=False,
    )
    (pickled,) = (Path(default_location(url)) / "functions").iterdir()
    pickled.write_bytes(pickled.read_bytes() + b"\x00")
    result = cli("holdout", "mine", "--storage", url, "--allow-module", "pickled", cwd=tmp_path)
    assert result.returncode == 2
    assert "does not match the SHA-256 recorded with it; refused" in result.stderr.strip().splitlines()[-1]
    (stored,) = (Path(default_location(url)) / "data").iterdir()
    pickled.write_bytes(pickled.read_bytes()[:-1])  # the function is whole again; now the data is altered
    stored.write_bytes(stored.read_bytes()[:-1])
    result = cli("holdout", "mine", "--storage", url, "--allow-module", "pickled", cwd=tmp_path)
    assert result.returncode == 2 and "does not match the SHA-256 recorded with the study" in result.stderr
    assert not (Path(default_location(url)) / "models").exists()  # nothing trained or written


class RunsCode:
    """A pickle that, when unpickled, writes a marker file: proof that code from a file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.marker, "code from a pickle ran"))


def _set_trial_attr(db: Path, number: int, key: str, value: object) -> None:
    """Edit a trial's user attribute in the database file, as anyone who can write it could."""
    import json
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE trial_user_attributes SET value_json = ? WHERE key = ? AND trial_id = "
            "(SELECT trial_id FROM trials WHERE number = ?)",
            (json.dumps(value), key, number),
        )
    conn.close()


def _set_holdout(url: str, name: str, record: dict) -> None:
    """Replace a study's holdout record in the database, as anyone who can write it could."""
    storage = optuna.storages.RDBStorage(url)
    optuna.load_study(study_name=name, storage=storage).set_user_attr("holdout", record)
    storage.engine.dispose()


def test_a_repointed_or_digest_less_preprocessing_file_is_never_unpickled(storage: str, tmp_path: Path) -> None:
    import joblib

    run_study("iris", n_trials=1, storage=storage, show_progress=False, overrides={"max_epochs": 2})
    original = evaluate_holdout("iris", storage=storage, show_progress=False)
    marker, evil = tmp_path / "marker", tmp_path / "evil.joblib"
    joblib.dump(RunsCode(marker), evil)
    evil_digest = hashlib.sha256(evil.read_bytes()).hexdigest()
    kept = Path(original["preprocessing_path"])  # models/<key>.preprocessing.joblib in the study's store
    db = Path(storage.removeprefix("sqlite:///"))

    def refused(record: dict, message: str, **options: object) -> None:
        _set_holdout(storage, "iris", record)
        with pytest.raises(InputError, match=message) as info:
            load_predictor("iris", storage=storage, **options)
        assert "\n" not in str(info.value)
        assert not marker.exists()  # nothing was unpickled
        assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()

    # repointed at a file of the database writer's choosing, with that file's digest: the path is never read
    refused(original | {"preprocessing_path": str(evil), "preprocessing_sha256": evil_digest}, "did not sign")
    refused(original | {"preprocessing_path": str(evil)} | {"preprocessing_sha256": evil_digest}, "does not match",
            allow_modules=["pickled"])  # fmt: skip
    # no digest: refused, with the command that writes the holdout again
    without = {k: v for k, v in original.items() if k != "preprocessing_sha256"}
    refused(without, "re-create the holdout with: python -m search holdout iris --force")
    # the kept file replaced and its digest recorded anew (a writer of the store and the database): not signed
    saved = kept.read_bytes()
    kept.write_bytes(evil.read_bytes())
    refused(original | {"preprocessing_sha256": evil_digest}, "your signing key did not sign")
    # ... nor signed by another user's key
    other = hmac.new(b"someone else's key", evil_digest.encode(), hashlib.sha256).hexdigest()
    refused(original | {"preprocessing_sha256": evil_digest, "preprocessing_signature": other}, "did not sign")
    kept.write_bytes(saved)
    refused({k: v for k, v in original.items() if k != "model_sha256"}, "no SHA-256 is recorded for .*keras")
    _set_holdout(storage, "iris", original)
    assert load_predictor("iris", storage=storage).class_names == ["setosa", "versicolor", "virginica"]


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("search.engine._trust:os.system", "may name one attribute of its module, not a path through it"),
        ("search.engine._trust:sys", "which this process does not trust: allow it with --allow-module"),
        ("spaces.mlp:np", "a shipped space is named by its module alone"),
        ("tests.search.test_trust:RunsCode", "which this process does not trust"),
        ("../../x", "is not a module name"),
    ],
)
def test_a_stored_space_is_trusted_by_exact_name_only(make_study, tmp_path: Path, module: str, message: str) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run_study(make_study(trials=1, max_epochs=2), storage=url, show_progress=False)
    study = optuna.load_study(study_name="synthetic", storage=url)
    study.set_user_attr("config", study.user_attrs["config"] | {"space": {"module": module}})
    before = sqlite_rows(tmp_path / "studies.db")
    for call in (
        lambda: join_study("synthetic", storage=url, n_trials=2),
        lambda: evaluate_holdout("synthetic", storage=url),
    ):
        with pytest.raises(InputError, match=message):
            call()
    assert sqlite_rows(tmp_path / "studies.db") == before  # no trial started


def test_what_an_allowed_module_names_must_be_a_space_or_a_build_function_defined_there(make_study, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run_study(make_study(trials=1, max_epochs=2), storage=url, show_progress=False)
    study = optuna.load_study(study_name="synthetic", storage=url)
    study.set_user_attr("config", study.user_attrs["config"] | {"space": {"module": "tests.search.test_trust:Path"}})
    with pytest.raises(InputError, match="is neither a space nor a build function defined in tests.search.test_trust"):
        join_study("synthetic", storage=url, n_trials=2, allow_modules=["tests.search.test_trust"])
    assert len(optuna.load_study(study_name="synthetic", storage=url).trials) == 1


def test_a_worker_joining_with_the_url_only_never_calls_what_a_tampered_database_names(make_study, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run_study(make_study(trials=1, max_epochs=2), storage=url, show_progress=False)
    study = optuna.load_study(study_name="synthetic", storage=url)
    study.set_user_attr("config", study.user_attrs["config"] | {"space": {"module": "search.engine._trust:sys.exit"}})
    result = cli("worker", "synthetic", "--storage", url, "--trials", "2", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "not a path through it" in line
    assert len(optuna.load_study(study_name="synthetic", storage=url).trials) == 1


def test_a_tampered_database_for_each_thing_it_stores(make_study, tmp_path: Path) -> None:
    """Every stored record a process reads is validated: a tampered one is one line, never a traceback or a run."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run_study(make_study(trials=2, max_epochs=2), storage=url, show_progress=False)
    evaluate_holdout("synthetic", storage=url, show_progress=False)
    study = optuna.load_study(study_name="synthetic", storage=url)
    config, holdout = dict(study.user_attrs["config"]), dict(study.user_attrs["holdout"])
    tamperings = {
        "config": ("not a table", "has no stored definition"),
        "config.trials": (config | {"trials": "many"}, "'trials' must be an integer"),
        "config.seed": (config | {"seed": -1}, "'seed' must be at least 0"),
        "config.sampler": (config | {"sampler": {"name": "TPESampler", "n_startup_trials": -3}}, "at least 0"),
        "config.data": (config | {"data": {"kind": "synthetic", "n_train": float("nan")}}, "finite number"),
        "config.space": (config | {"space": {"module": "os:system"}}, "does not trust"),
        "config.objectives": (config | {"objectives": [{"name": "size"}]}, "neither a validation metric"),
        "config.extra key": (config | {"run_this": "now"}, "unknown key 'run_this'"),
    }
    for what, (value, message) in tamperings.items():
        study.set_user_attr("config", value)
        calls = [lambda: join_study("synthetic", storage=url, n_trials=3)]
        calls += [] if what == "config.space" else [lambda: stored_config(study)]  # trust is the joining process's
        for call in calls:
            with pytest.raises(InputError, match=message) as info:
                call()
            assert "\n" not in str(info.value), what
    study.set_user_attr("config", config)
    trial = study.trials[holdout["trial"]]
    for key, value in (("config", "x"), ("best_epoch", "all of them"), ("best_epoch", -4)):
        _set_trial_attr(tmp_path / "studies.db", trial.number, key, value)
        with pytest.raises(InputError, match="has no recorded"):
            evaluate_holdout("synthetic", storage=url, force=True, show_progress=False)
        _set_trial_attr(tmp_path / "studies.db", trial.number, key, trial.user_attrs[key])
    study.set_user_attr("holdout", holdout | {"task": "poetry"})
    with pytest.raises(InputError, match="names no task this tool knows"):
        load_predictor("synthetic", storage=url)
    study.set_user_attr("holdout", holdout | {"model_sha256": "0" * 64})
    with pytest.raises(InputError, match="does not match the SHA-256 recorded with the holdout model"):
        load_predictor("synthetic", storage=url)
    study.set_user_attr("holdout", holdout | {"artifact_id": "../../etc/passwd", "model_sha256": "0" * 64})
    with pytest.raises(InputError, match="does not match"):  # the stored artifact id is never a path
        load_predictor("synthetic", storage=url)
