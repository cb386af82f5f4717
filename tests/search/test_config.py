"""Study definitions: shipped studies, overrides and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from search import InputError, SearchError, available_studies, load_study_config
from search.engine import make_pruner, make_sampler


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
        ({"trials": "-1"}, "'trials' must be a non-negative integer"),
        ({"metric": '""'}, "'metric' must be a non-empty string"),
        ({"enqueue": "3"}, "'enqueue' must be \\[\\[enqueue\\]\\] tables"),
        ({"enqueue": "[{}]"}, "'enqueue' must be \\[\\[enqueue\\]\\] tables"),
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
    with pytest.raises(SearchError, match="'monitor' must be a metric name"):
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
