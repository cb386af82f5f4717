"""Resume semantics on a real SQLite file: total budget, re-queued trials, refused changes."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
import types
from pathlib import Path

import optuna
import psutil
import pytest

from search import SearchError, load_study, run_study
from search.engine import StudyConfig, load_study_config, open_storage, portfolio_sets
from search.engine._recovery import enqueue_params
from search.engine._spaces import space_changes
from search.engine._storage import check_storage, sqlite_path
from search.engine._study import enqueue_portfolio, stored_config
from search.models import load_space
from spaces import mlp

State = optuna.trial.TrialState


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(states=(State.COMPLETE, State.PRUNED))


def _digest(url: str) -> str:
    return hashlib.sha256(sqlite_path(url).read_bytes()).hexdigest()


def test_budget_is_a_total_for_the_study(make_study, storage: str) -> None:
    path = make_study(trials=2)
    first = run_study(path, storage=storage, show_progress=False)
    values = [t.value for t in _finished(first)]
    assert len(values) == 2
    again = run_study(path, storage=storage, show_progress=False)
    assert len(again.trials) == 2  # nothing left to do
    more = run_study(path, storage=storage, n_trials=4, show_progress=False)
    assert len(_finished(more)) == 4
    assert [t.value for t in _finished(more)][:2] == values  # earlier trials untouched
    assert more.user_attrs["seed"] == 7


def _dead_worker() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = {
        "host": __import__("socket").gethostname(),
        "pid": proc.pid,
        "started": psutil.Process(proc.pid).create_time(),
    }
    proc.kill()
    proc.wait()
    return identity


def test_trial_of_a_dead_worker_is_failed_and_requeued_with_its_params(make_study, storage: str) -> None:
    path = make_study(trials=2)
    run_study(path, storage=storage, n_trials=1, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    config = stored_config(study)
    orphan = study.ask()
    params = mlp.suggest(orphan, **config.space_bounds)
    orphan.set_user_attr("worker", _dead_worker())

    resumed = run_study(path, storage=storage, show_progress=False)
    trials = resumed.get_trials()
    assert trials[orphan.number].state == State.FAIL
    retries = [t for t in trials if t.user_attrs.get("retry_of") == orphan.number]
    assert len(retries) == 1
    assert retries[0].state == State.COMPLETE
    assert retries[0].params == trials[orphan.number].params
    assert retries[0].user_attrs["config"] == params
    assert len(_finished(resumed)) == 2


def test_queued_trial_killed_before_it_sampled_is_requeued_with_the_queued_params(make_study, storage: str) -> None:
    path = make_study(trials=2)
    run_study(path, storage=storage, n_trials=1, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    queued = dict(study.trials[0].params, units=7)
    enqueue_params(study, queued, skip_if_exists=False, user_attrs={"enqueued": True})
    killed = study.ask()  # its worker dies before the trial asks for any parameter
    killed.set_user_attr("worker", _dead_worker())

    resumed = run_study(path, storage=storage, show_progress=False)
    assert resumed.trials[killed.number].state == State.FAIL and not resumed.trials[killed.number].params
    (retry,) = [t for t in resumed.trials if t.user_attrs.get("retry_of") == killed.number]
    assert retry.state == State.COMPLETE and retry.params == queued


def test_running_trial_of_a_live_worker_is_left_alone(make_study, storage: str) -> None:
    path = make_study(trials=1)
    run_study(path, storage=storage, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    config = stored_config(study)
    live = study.ask()
    mlp.suggest(live, **config.space_bounds)
    live.set_user_attr("worker", __import__("search.engine._identity", fromlist=["x"]).worker_identity())
    resumed = run_study(path, storage=storage, show_progress=False)
    assert resumed.trials[live.number].state == State.RUNNING
    assert not [t for t in resumed.trials if t.user_attrs.get("retry_of") is not None]


def test_interrupted_trial_is_requeued_once(make_study, storage: str) -> None:
    path = make_study(trials=2)
    run_study(path, storage=storage, n_trials=1, show_progress=False)
    study, _ = load_study("synthetic", storage=storage)
    config = stored_config(study)
    interrupted = study.ask()
    mlp.suggest(interrupted, **config.space_bounds)
    interrupted.set_user_attr("stopped_by", "KeyboardInterrupt")
    study.tell(interrupted, state=State.FAIL)
    run_study(path, storage=storage, show_progress=False)
    resumed = run_study(path, storage=storage, n_trials=3, show_progress=False)
    retries = [t for t in resumed.trials if t.user_attrs.get("retry_of") == interrupted.number]
    assert len(retries) == 1 and retries[0].params == resumed.trials[interrupted.number].params


def test_changed_definition_is_refused_and_the_database_unchanged(make_study, storage: str) -> None:
    run_study(make_study(trials=1), storage=storage, show_progress=False)
    before = _digest(storage)
    changed = make_study(trials=2, space="dropout = [0.0, 0.2]")
    with pytest.raises(SearchError, match="different definition .*settings space.*--allow-changes"):
        run_study(changed, storage=storage, show_progress=False)
    assert _digest(storage) == before
    study = run_study(changed, storage=storage, allow_changes=True, show_progress=False)
    assert len(_finished(study)) == 2
    assert study.user_attrs["definition"]["space"]["dropout"] == [0.0, 0.2]


def test_a_run_with_its_budget_reached_rewrites_no_definition(make_study, storage: str) -> None:
    run_study(make_study(trials=2, max_epochs=2), storage=storage, show_progress=False)
    before = load_study("synthetic", storage=storage)[0].user_attrs
    # Resumed with a smaller budget and, allowed, another space: nothing trains, so nothing is stored.
    changed = make_study(trials=1, max_epochs=2, space="dropout = [0.0, 0.2]")
    study = run_study(changed, storage=storage, allow_changes=True, show_progress=False)
    assert len(study.trials) == 2
    after = load_study("synthetic", storage=storage)[0].user_attrs
    assert after == before and after["config"]["trials"] == 2


def test_space_replay_detects_changed_distributions(make_study, storage: str) -> None:
    path = make_study(trials=2)
    study = run_study(path, storage=storage, show_progress=False)
    config = stored_config(load_study("synthetic", storage=storage)[0])
    assert space_changes(study, load_space(mlp), config.space_bounds) == []
    narrower = config.space_bounds | {"units": [4, 8], "batch_size": [16, 32]}
    changed = space_changes(study, load_space(mlp), narrower)
    assert "units" in changed and "batch_size" in changed


def test_same_name_with_other_direction_is_refused(make_study, storage: str) -> None:
    run_study(make_study(trials=1), storage=storage, show_progress=False)
    before = _digest(storage)
    with pytest.raises(SearchError, match="exists with direction maximize, not minimize"):
        run_study(make_study(direction="minimize"), storage=storage, show_progress=False)
    assert _digest(storage) == before


def test_bad_storage_is_refused_before_anything_is_written(make_study, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    with pytest.raises(SearchError, match="is not a study database"):
        run_study(make_study(), storage=f"sqlite:///{text}", show_progress=False)
    assert text.read_text() == "not a database"
    with pytest.raises(SearchError, match="folder .* does not exist"):
        run_study(make_study(), storage=f"sqlite:///{tmp_path}/missing/x.db", show_progress=False)
    with pytest.raises(SearchError, match="malformed storage URL|unsupported storage URL"):
        run_study(make_study(), storage="nosuchdb://host/x", show_progress=False)


def test_enqueued_sets_run_first_and_only_once(make_study, storage: str) -> None:
    hand_tuned = {"depth": 1, "units": 7, "batch_size": 64}
    overrides = {"enqueue": [hand_tuned]}
    study = run_study(make_study(trials=2), storage=storage, show_progress=False, overrides=overrides)
    first, second = study.trials
    assert {k: first.params[k] for k in hand_tuned} == hand_tuned and first.user_attrs["enqueued"]
    assert "enqueued" not in second.user_attrs
    resumed = run_study(make_study(trials=2), storage=storage, n_trials=3, show_progress=False, overrides=overrides)
    assert [t.state for t in resumed.trials] == [State.COMPLETE] * 3
    assert sum(t.user_attrs.get("enqueued", False) for t in resumed.trials) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"units": 500}, r"\[\[enqueue\]\] set 1: units=500 is outside the space"),
        ({"depth": 1, "width": 3}, r"the space samples no parameter 'width'"),
        ({"batch_size": 100}, r"\[\[enqueue\]\] set 1: .*100"),
    ],
)
def test_bad_enqueued_set_is_refused_before_any_write(make_study, storage: str, params: dict, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        run_study(make_study(), storage=storage, show_progress=False, overrides={"enqueue": [params]})
    assert not sqlite_path(storage).exists()


def test_same_seed_gives_the_same_trials(make_study, tmp_path: Path) -> None:
    path = make_study(trials=3)
    a = run_study(path, storage=f"sqlite:///{tmp_path / 'a.db'}", show_progress=False)
    b = run_study(path, storage=f"sqlite:///{tmp_path / 'b.db'}", show_progress=False)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert [t.value for t in a.trials] == pytest.approx([t.value for t in b.trials])


def test_progress_bar_shows_eta_best_value_and_the_running_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    from search.engine._optimize import _Progress

    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=0.8, params={}, distributions={}))
    progress = _Progress(study, 4, max_epochs=5)
    progress.epoch(1, 1, {"loss": [0.5, 0.4]})
    running = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "1/4 trials" in running and "ETA ?" in running
    assert "best=0.8000 (trial 0), trial 1 epoch 2/5" in running
    finished = optuna.trial.create_trial(value=0.9, params={}, distributions={})
    study.add_trial(finished)
    time.sleep(0.2)
    progress(study, study.trials[-1])
    progress.close()
    done = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "2/4 trials" in done and "ETA 00:00" in done and done.endswith("best=0.9000 (trial 1)]")


def test_a_monitor_the_task_does_not_log_is_refused_before_any_write(make_study, storage: str) -> None:
    with pytest.raises(SearchError, match="monitor 'val_rmse' is not logged for a binary task"):
        run_study(make_study(), storage=storage, show_progress=False, overrides={"monitor": "val_rmse"})
    assert not sqlite_path(storage).exists()


def test_checking_a_database_this_process_has_open_keeps_its_connections_sound(tmp_path: Path) -> None:
    """The storage check of a WAL database another connection of this process holds (a notebook calling
    ``run_study`` twice) must not drop SQLite's locks: another process would then remove the ``-wal`` and
    ``-shm`` files under the open connection ("database disk image is malformed")."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(study_name="held", storage=open_storage(url))
    study.tell(study.ask(), 1.0)
    for _ in range(2):  # checked while this process holds the database open
        check_storage(url)
    other = f"import optuna; s = optuna.load_study(study_name='held', storage={url!r}); s.tell(s.ask(), 2.0)"
    subprocess.run([sys.executable, "-c", other], check=True, timeout=120)
    study.tell(study.ask(), 3.0)  # this process's connection goes on writing
    assert [t.value for t in study.trials] == [1.0, 2.0, 3.0]
    conn = sqlite3.connect(tmp_path / "studies.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_portfolio_sets_are_moved_into_the_study_bounds() -> None:
    space = load_space(
        types.SimpleNamespace(
            suggest=mlp.suggest,
            build=mlp.build,
            PORTFOLIO=[
                {"depth": 3, "units": 500, "taper": 0.5, "batch_size": 8, "activation": "gelu", "learning_rate": 1.0},
                {"depth": 2, "units": 16, "taper": 0.5, "batch_size": 32, "learning_rate": 0.03},  # the same, within
                {"depth": 1, "units": 2, "taper": 0.9, "l2_on": True, "l2": 1e-9, "batch_size": 512},
            ],
        )
    )
    bounds = {"depth": [1, 2], "units": [4, 16], "batch_size": [32, 64], "learning_rate": [0.003, 0.03]}
    bounds |= {"activation": ["relu", "tanh"]}
    # Clipped, the nearest batch size, gelu left to the sampler, taper dropped where depth 1 does not sample it.
    assert portfolio_sets(space, bounds) == [
        {"depth": 2, "units": 16, "taper": 0.5, "batch_size": 32, "learning_rate": 0.03},
        {"depth": 1, "units": 4, "l2_on": True, "l2": 1e-6, "batch_size": 64},
    ]


def test_new_study_tries_the_portfolio_first_and_only_once(make_study, storage: str) -> None:
    path = make_study(trials=2)
    sets = portfolio_sets(load_space("spaces.mlp"), load_study_config(path).space_bounds)
    assert len(sets) > 2
    study = run_study(path, storage=storage, show_progress=False)
    assert [t.state for t in study.trials] == [State.COMPLETE] * 2  # no more sets queued than the budget runs
    assert [{k: t.params[k] for k in sets[i]} for i, t in enumerate(study.trials)] == sets[:2]
    assert all(t.user_attrs["portfolio"] for t in study.trials)
    more = run_study(path, storage=storage, n_trials=3, show_progress=False)
    assert len(more.trials) == 3 and "portfolio" not in more.trials[2].user_attrs  # a resumed study: the sampler


@pytest.mark.parametrize("overrides", [{"portfolio": False}, {"enqueue": [{"depth": 1}]}])
def test_portfolio_off_or_replaced_by_enqueued_sets(make_study, overrides: dict) -> None:
    config = StudyConfig.checked(load_study_config(make_study()).stored() | overrides, source="test")
    study = optuna.create_study(direction="maximize")
    space = load_space("spaces.mlp")
    assert enqueue_portfolio(study, config, space) == 0 and not study.trials
    assert enqueue_portfolio(study, config.model_copy(update={"portfolio": True, "enqueue": []}), space) > 0


def _space_with(suggest, portfolio) -> object:
    return types.SimpleNamespace(suggest=suggest, build=mlp.build, PORTFOLIO=portfolio)


def test_a_portfolio_that_cannot_be_used_is_one_line_before_any_write(make_study, storage: str) -> None:
    def stepped(trial, **bounds):
        return {"x": trial.suggest_int("x", 0, 10, step=6), "batch_size": 32}

    def numbered(trial, **bounds):
        return {"x": trial.suggest_int("x", 0, 10) + trial.number, "batch_size": 32}

    # 10 is off the grid of step 6: the highest value on it is 6.
    assert portfolio_sets(load_space(_space_with(stepped, [{"x": 10}])), {}) == [{"x": 6}]
    with pytest.raises(SearchError, match=r"its PORTFOLIO set 1 cannot be moved .*AttributeError.*portfolio = false"):
        portfolio_sets(load_space(_space_with(numbered, [{"x": 3}])), {})
    with pytest.raises(SearchError, match="PORTFOLIO must be a list of dicts"):
        portfolio_sets(load_space(_space_with(stepped, {"x": 3})), {})
    with pytest.raises(SearchError, match="unknown SQLite option.*isolation_level"):
        run_study(make_study(), storage=f"{storage}?isolation_level=DEFERRED", show_progress=False)
    assert not sqlite_path(storage).exists()
