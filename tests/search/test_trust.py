"""The trust boundary: a stored definition is data; a file from storage is read only if its digest matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna

from search import run_study, tune
from search.engine import default_location
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
