"""The csv study template: a classification default that the command-line flags complete."""

from __future__ import annotations

import pytest

from search import SearchError, load_study_config
from search.data import load_search_data


def test_csv_template_needs_a_file_and_a_target() -> None:
    config = load_study_config("csv")
    assert (config.metric, config.direction) == ("val_accuracy", "maximize")
    assert config.data["kind"] == "csv" and config.data["task"] == "classification"
    assert "path" not in config.data and "target" not in config.data
    with pytest.raises(SearchError, match="needs a file and a target column"):
        load_search_data(config.data, seed=config.seed)
