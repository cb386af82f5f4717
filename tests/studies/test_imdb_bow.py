"""One real, short imdb-bow study on the shared IMDB data, through the command line (its entry function)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._helpers import cli_here

QUICK = ["--set", "data.subset=3000", "--set", "data.validation_size=0.4", "--set", "max_epochs=3"]


def _cli(capfd: pytest.CaptureFixture[str], *args: str) -> dict:
    result = cli_here(capfd, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_short_imdb_bow_run_resume_and_holdout(
    imdb_available: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 'imdb.db'}"
    first = _cli(capfd, "run", "imdb-bow", "--trials", "2", "--storage", storage, "--json", *QUICK)
    assert first["n_finished"] == 2
    assert 0.6 < first["best_value"] <= 1.0  # 1,800 reviews already beat chance clearly
    resumed = _cli(capfd, "run", "imdb-bow", "--trials", "3", "--storage", storage, "--json", *QUICK)
    assert resumed["n_finished"] == 3 and resumed["n_trials"] == 3

    holdout = _cli(capfd, "holdout", "imdb-bow", "--storage", storage, "--json")
    assert holdout["n_test"] == 3000 and holdout["n_train"] == 3000
    assert 0.6 < holdout["accuracy"] <= 1.0
    assert sum(map(sum, holdout["confusion_matrix"])) == 3000
    assert Path(holdout["model_path"]).is_file()
    again = _cli(capfd, "holdout", "imdb-bow", "--storage", storage, "--json")
    assert again["cached"] is True and again["accuracy"] == holdout["accuracy"]

    listing = _cli(capfd, "list", "--storage", storage, "--json")
    assert listing["studies"][0]["holdout_accuracy"] == holdout["accuracy"]
