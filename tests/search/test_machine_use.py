"""How a run uses the machine when not told: the number of workers, the checkpoint interval."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from search import InputError
from search.engine._checkpoint import checkpoint_callback, checkpoint_interval
from search.engine._supervise import default_workers
from tests._helpers import cli_here


def test_workers_default_to_one_per_core_and_the_environment_can_say_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEARCH_WORKERS")
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: a CPU machine
    n, why = default_workers()
    assert n == len(os.sched_getaffinity(0)) and "per core" in why
    monkeypatch.setenv("SEARCH_WORKERS", "3")
    assert default_workers() == (3, "SEARCH_WORKERS")
    monkeypatch.setenv("SEARCH_WORKERS", "two")
    with pytest.raises(InputError, match="SEARCH_WORKERS must be a positive integer"):
        default_workers()


def test_run_says_how_many_workers_it_starts_and_never_more_than_the_trials_left(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    env = {"SEARCH_WORKERS": "4"}
    result = cli_here(
        capfd, "run", "iris", "--trials", "1", "--set", "max_epochs=2", "--storage", storage, "--no-progress", env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 worker(s): SEARCH_WORKERS" in result.stderr  # 4 asked for, 1 trial to run
    again = cli_here(
        capfd, "run", "iris", "--trials", "2", "--set", "max_epochs=2", "--workers", "1", "--storage", storage, env=env
    )
    assert again.returncode == 0 and "worker(s):" not in again.stderr  # told: nothing to pick


class _Store:
    def __init__(self) -> None:
        self.saved: list[int] = []

    def save(self, model: Any, epoch: int, history: Any, early: Any) -> None:
        self.saved.append(epoch)


@pytest.mark.parametrize(("every_s", "expected"), [(0.0, [0, 1, 2]), (3600.0, [])])
def test_checkpoints_are_written_at_the_interval(every_s: float, expected: list[int]) -> None:
    store = _Store()
    recorder = type("Recorder", (), {"history": {}})()
    callback = checkpoint_callback(store, recorder, early=None, every_s=every_s)  # type: ignore[arg-type]
    callback.on_train_begin()
    for epoch in range(3):
        callback.on_epoch_end(epoch)
    assert store.saved == expected


def test_the_checkpoint_interval_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEARCH_CHECKPOINT_EVERY")
    assert checkpoint_interval() == 10.0
    monkeypatch.setenv("SEARCH_CHECKPOINT_EVERY", "2.5")
    assert checkpoint_interval() == 2.5
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv("SEARCH_CHECKPOINT_EVERY", bad)
        with pytest.raises(InputError, match="SEARCH_CHECKPOINT_EVERY must be a number of seconds"):
            checkpoint_interval()
