"""Study definitions: shipped studies, overrides and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from search import InputError, SearchError, available_studies, load_study_config
from search.engine._samplers import make_pruner, make_sampler


def test_imdb_bow_definition() -> None:
    config = load_study_config("imdb-bow")
    assert config.name == "imdb-bow"
    assert (config.metric, config.direction) == ("val_accuracy", "maximize")
    assert config.data["kind"] == "imdb-bow"
    assert config.data["vocab_size"] == 10000
    assert config.data["validation_size"] == 10000
    assert config.trials == 30
    assert "imdb-bow" in available_studies()


def test_overrides_merge_tables_and_replace_fields() -> None:
    config = load_study_config("imdb-bow", trials=5, data={"vocab_size": 2000})
    assert config.trials == 5
    assert config.data["vocab_size"] == 2000
    assert config.data["kind"] == "imdb-bow"  # the rest of the table is kept


def test_unknown_study_names_the_study_and_the_known_ones() -> None:
    with pytest.raises(SearchError, match=r"unknown study 'imdb-bowl' \(known: .*imdb-bow"):
        load_study_config("imdb-bowl")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"direction": '"up"'}, "'direction' must be one of"),
        ({"trials": "-1"}, "'trials' must be at least 1, got -1"),
        ({"metric": '""'}, "'metric' must be a non-empty string"),
        ({"enqueue": "3"}, "'enqueue' must be \\[\\[enqueue\\]\\] tables"),
        ({"enqueue": "[{}]"}, "'enqueue.0' must not be empty"),
        ({}, None),
    ],
)
def test_validation(tmp_path: Path, change: dict[str, str], message: str | None) -> None:
    fields = {"name": '"x"', "metric": '"val_loss"', "direction": '"minimize"'} | change
    text = "".join(f"{k} = {v}\n" for k, v in fields.items())
    text += '[data]\nkind = "synthetic"\n[space]\nmodule = "spaces.mlp"\n'
    path = tmp_path / "x.toml"
    path.write_text(text)
    if message is None:
        assert load_study_config(path).direction == "minimize"
    else:
        with pytest.raises(SearchError, match=message):
            load_study_config(path)


def test_unknown_sampler_and_pruner() -> None:
    with pytest.raises(SearchError, match="unknown sampler 'TPE'"):
        make_sampler(load_study_config("imdb-bow", sampler={"name": "TPE"}))
    with pytest.raises(SearchError, match="unknown pruner 'Median'"):
        make_pruner(load_study_config("imdb-bow", pruner={"name": "Median"}))
    with pytest.raises(SearchError, match="invalid options for pruner"):
        make_pruner(load_study_config("imdb-bow", pruner={"name": "MedianPruner", "n_warmup": 2}))


def test_monitor_is_optional_and_only_fingerprinted_when_set() -> None:
    plain = load_study_config("imdb-bow")
    assert plain.monitor == "" and plain.monitored == "val_accuracy" and "monitor" not in plain.fingerprint()
    iris = load_study_config("iris")
    assert (iris.monitored, iris.monitor_direction) == ("val_loss", "minimize")
    assert iris.fingerprint()["monitor"] == "val_loss"
    assert load_study_config("iris", monitor="val_accuracy").monitor_direction == "maximize"
    with pytest.raises(SearchError, match="'monitor' must be a string, got 3"):
        load_study_config("iris", monitor=3)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_epoch": 3}, "unknown key 'max_epoch' (did you mean 'max_epochs'?)"),
        ({"budget": {"patiance": 2}}, "[budget]: unknown key 'patiance' (did you mean 'patience'?)"),
        ({"sampler_name": "x"}, "unknown key 'sampler_name' (did you mean 'sampler'?)"),
    ],
)
def test_a_misspelled_key_is_refused_with_the_nearest_name(overrides: dict, message: str) -> None:
    with pytest.raises(InputError) as info:
        load_study_config("iris", **overrides)
    assert str(info.value).endswith(message)


MINIMAL = """\
name = "x"
metric = "val_loss"
direction = "minimize"
[data]
kind = "synthetic"
[space]
module = "spaces.mlp"
"""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seed": -1}, "'seed' must be at least 0, got -1"),
        ({"seed": True}, "'seed' must be an integer, got True"),
        ({"seed": 2**32}, "'seed' must be at most 4,294,967,295, got 4,294,967,296"),
        ({"trials": 0}, "'trials' must be at least 1, got 0"),
        ({"trials": 3.0}, "'trials' must be an integer, got 3.0"),
        ({"trials": 10**7}, "'trials' is too large: trials must be at most 1,000,000, got 10,000,000"),
        ({"budget": {"max_epochs": 0}}, "'budget.max_epochs' must be at least 1, got 0"),
        ({"max_epochs": 10_001}, "'max_epochs' must be at most 10,000, got 10,001"),
        ({"patience": -1}, "'patience' must be at least 0, got -1"),
        ({"patience": "3"}, "'patience' must be an integer, got '3'"),
        ({"direction": "up"}, "'direction' must be one of 'maximize' or 'minimize', got 'up'"),
        ({"backend": "torch"}, "'backend' must be one of '', 'tensorflow' or 'jax', got 'torch'"),
        ({"monitor": ""}, "'monitor' must be a non-empty string, got ''"),
        ({"budget": {"monitor": 3}}, "'budget.monitor' must be a string, got 3"),
        ({"data": 3}, "'data' must be a table, got 3"),
        ({"budget": "all"}, "'budget' must be a table, got 'all'"),
        ({"data": {"kind": ""}}, "'data.kind' must be a non-empty string, got ''"),
        ({"sampler": {"seed": 1}}, "'sampler.name' is required"),
        ({"enqueue": [{"units": 8}, 3]}, "'enqueue.1' must be a table, got 3"),
        ({"data": {"validation_size": float("nan")}}, "'data.validation_size' must be a finite number, got nan"),
        ({"space": {"dropout": [0.0, float("inf")]}}, "'space.dropout.1' must be a finite number, got inf"),
        ({"enqueue": [{"lr": float("-inf")}]}, "'enqueue.0.lr' must be a finite number, got -inf"),
        ({"name": ""}, "'name': study name must be a non-empty string, got ''"),
        ({"budget": {"trials": 5, "epochs": 2}}, "[budget]: unknown key 'epochs' (did you mean 'max_epochs'?)"),
        ({"zzz": 1}, "unknown key 'zzz' (known: name, description, metric, direction, monitor, seed, backend, data, "),
    ],
)
def test_the_schema_says_what_is_wrong_in_one_line(tmp_path: Path, overrides: dict, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(MINIMAL)
    with pytest.raises(InputError) as info:
        load_study_config(path, **overrides)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_misspelled_key_is_reported_before_the_key_it_leaves_missing(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(MINIMAL.replace("metric =", "metrc ="))
    with pytest.raises(InputError, match=r"unknown key 'metrc' \(did you mean 'metric'\?\)$"):
        load_study_config(path)


def test_budget_fields_may_be_top_level_or_in_the_budget_table_and_top_level_wins(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(MINIMAL + '[budget]\ntrials = 7\nmax_epochs = 4\npatience = 9\nmonitor = "val_accuracy"\n')
    config = load_study_config(path, trials=2)
    assert (config.trials, config.max_epochs, config.patience, config.monitor) == (2, 4, 9, "val_accuracy")
    defaults = load_study_config(tmp_path / "x.toml", budget={"trials": 1})
    assert defaults.sampler == {"name": "TPESampler"} and defaults.pruner == {"name": "MedianPruner"}


def test_a_table_override_replaces_a_value_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(MINIMAL.replace("[data]", "pruner = 3\n[data]"))
    with pytest.raises(InputError, match=r"'pruner' must be a table, got 3$"):
        load_study_config(path)
    assert load_study_config(path, pruner={"name": "NopPruner"}).pruner == {"name": "NopPruner"}


def test_every_shipped_definition_passes_the_schema() -> None:
    for name in available_studies():
        assert load_study_config(name).name
