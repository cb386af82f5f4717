"""Tabular loaders: seeded splits, preprocessing fitted on training rows only, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import search.data._loaders
from search import SearchError, load_study_config
from search.data import load_holdout_data, load_search_data
from search.data._records import split_train_validation
from search.data._tabular import coerce_columns, read_csv


def _csv_config(path: Path, target: str = "label", task: str = "classification"):
    return load_study_config("csv", data={"path": str(path), "target": target, "task": task})


def test_csv_search_preprocessing_is_fitted_on_partial_train_rows_only(table_csv: Path) -> None:
    config = _csv_config(table_csv)
    raw = search.data._loaders._load(config.data, config.seed)
    data = load_search_data(config.data, seed=config.seed)
    holdout = load_holdout_data(config.data, seed=config.seed)

    assert data.task.kind == "binary" and holdout.class_names == ["no", "yes"]
    assert len(raw.y_train) == 192 and len(raw.y_test) == 48  # 20 % of 240 held out
    assert len(data.y_train) + len(data.y_val) == 192
    assert not set(raw.test_ids) & set(data.train_ids + data.val_ids)
    # x1, x2, size, y standardized; color one-hot (blue, green, red); no missing cell left.
    assert data.x_train.shape[1] == holdout.x_test.shape[1] == 7
    assert data.x_train.dtype == np.float32
    assert not np.isnan(data.x_train).any() and not np.isnan(holdout.x_test).any()
    assert np.allclose(data.x_train[:, :4].mean(axis=0), 0.0, atol=1e-5)
    assert not np.allclose(data.x_val[:, :4].mean(axis=0), 0.0, atol=1e-3)

    # The search's imputer and scaler saw the partial-train rows, the holdout's all training rows.
    train, _ = split_train_validation(raw.y_train, validation_size=0.2, seed=config.seed)
    partial = raw.x_train.iloc[train]
    search_numbers = data.preprocessor.named_steps["columns"].named_transformers_["numeric"]
    holdout_numbers = holdout.preprocessor.named_steps["columns"].named_transformers_["numeric"]
    assert search_numbers["impute"].statistics_[0] == pytest.approx(partial["x1"].median())
    assert holdout_numbers["impute"].statistics_[0] == pytest.approx(raw.x_train["x1"].median())
    assert search_numbers["impute"].statistics_[0] != holdout_numbers["impute"].statistics_[0]
    assert holdout_numbers["scale"].mean_[1] == pytest.approx(raw.x_train["x2"].mean())
    categories = holdout.preprocessor.named_steps["columns"].named_transformers_["categorical"]
    assert categories["one_hot"].categories_[0].tolist() == ["blue", "green", "red"]
    # The other target column is just a feature here.
    assert holdout.schema["numeric"] == ["x1", "x2", "size", "y"] and holdout.schema["categorical"] == ["color"]

    again = load_search_data(config.data, seed=config.seed)
    assert again.val_ids == data.val_ids and np.array_equal(again.x_val, data.x_val)


def test_csv_regression_and_explicit_categorical_and_dropped_columns(table_csv: Path) -> None:
    config = _csv_config(table_csv, target="y", task="regression")
    config = config.replace(data=config.data | {"categorical": ["size"], "drop": ["label"]})
    holdout = load_holdout_data(config.data, seed=config.seed)
    assert holdout.task.kind == "regression" and holdout.y_train.dtype == np.float32
    assert holdout.schema["columns"] == ["x1", "x2", "color", "size"]
    assert holdout.schema["categorical"] == ["color", "size"]
    assert holdout.x_train.shape[1] == 2 + 3 + 4  # size 1..4 one-hot


def test_iris_is_split_stratified_with_three_classes() -> None:
    config = load_study_config("iris")
    holdout = load_holdout_data(config.data, seed=config.seed)
    assert holdout.task.kind == "multiclass" and holdout.task.n_classes == 3
    assert holdout.class_names == ["setosa", "versicolor", "virginica"]
    assert holdout.x_train.shape == (120, 4) and holdout.x_test.shape == (30, 4)
    assert np.bincount(holdout.y_test).tolist() == [10, 10, 10]
    data = load_search_data(config.data, seed=config.seed)
    assert np.bincount(data.y_val).tolist() == [8, 8, 8]


def test_auto_mpg_imputes_and_scales_with_training_statistics(auto_mpg_available: Path) -> None:
    config = load_study_config("auto-mpg")
    raw = search.data._loaders._load(config.data, config.seed)
    holdout = load_holdout_data(config.data, seed=config.seed)
    assert (len(holdout.y_train), len(holdout.y_test)) == (318, 80)
    assert holdout.x_train.shape[1] == 6 + 3  # six numbers, origin one-hot
    assert raw.x_train["horsepower"].isna().sum() + raw.x_test["horsepower"].isna().sum() == 6
    numbers = holdout.preprocessor.named_steps["columns"].named_transformers_["numeric"]
    columns = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "year"]
    medians = raw.x_train[columns].median()
    assert numbers["impute"].statistics_ == pytest.approx(medians.to_numpy())
    filled = raw.x_train[columns].fillna(medians)
    assert numbers["scale"].mean_ == pytest.approx(filled.mean().to_numpy())
    everything = pd.concat([raw.x_train, raw.x_test])[columns]
    assert numbers["scale"].mean_ != pytest.approx(everything.fillna(everything.median()).mean().to_numpy())
    categories = holdout.preprocessor.named_steps["columns"].named_transformers_["categorical"]
    assert categories["one_hot"].categories_[0].tolist() == ["1", "2", "3"]
    assert abs(float(holdout.y_train.mean()) - 23.5) < 1.5


def test_missing_auto_mpg_file_is_one_line_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_study_config("auto-mpg")
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path))
    with pytest.raises(SearchError, match=r"auto-mpg\.csv not found") as info:
        load_search_data(config.data, seed=config.seed)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)
    monkeypatch.delenv("SEARCH_DATA_DIR")
    with pytest.raises(SearchError, match=r"auto-mpg\.csv not found: set SEARCH_DATA_DIR"):
        load_holdout_data(config.data, seed=config.seed)


@pytest.mark.parametrize(
    ("text", "settings", "message"),
    [
        ("a,b\n" + "1,2\n" * 5, {"target": "b"}, r"has 5 row\(s\) with a 'b' value; at least 10"),
        ("a\n" + "1\n" * 20, {"target": "a"}, "no feature column besides the target"),
        ("a,b\n" + "1,x\n" * 20, {"target": "b", "categorical": ["c"]}, "no column\\(s\\) 'c'"),
        ("a,b\n" + "1,x\n" * 20, {"target": "b", "colour": 1}, "unknown \\[data\\] setting\\(s\\) for csv: colour"),
        ("a,b\n" + "1,x\n" * 20, {"target": "b", "test_size": 1.5}, "test_size must be a fraction"),
    ],
)
def test_unusable_tables(tmp_path: Path, text: str, settings: dict, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(SearchError, match=message) as info:
        load_search_data({"kind": "csv", "path": str(path), "task": "classification"} | settings, seed=0)
    assert "\n" not in str(info.value)


def test_a_class_too_rare_to_stratify_falls_back_to_a_plain_shuffle(tmp_path: Path) -> None:
    rows = [f"{i},{'a' if i % 2 else 'b'}" for i in range(30)] + ["99,c"]
    path = tmp_path / "rare.csv"
    path.write_text("x,label\n" + "\n".join(rows) + "\n")
    data = load_search_data({"kind": "csv", "path": str(path), "target": "label"}, seed=0)
    assert data.task.kind == "multiclass" and data.task.n_classes == 3
    assert len(data.y_train) + len(data.y_val) == 24


def test_rows_typed_by_hand_are_coerced_like_the_csv(table_csv: Path) -> None:
    frame = read_csv(table_csv)
    assert frame["size"].isna().sum() > 0  # '?' read as missing
    typed = pd.DataFrame({"size": ["3", "?", None], "color": [1.0, "red", None]})
    out = coerce_columns(typed, ["size"], ["color"])
    assert out["size"].tolist()[0] == 3.0 and out["size"].isna().tolist() == [False, True, True]
    assert out["color"].tolist()[:2] == ["1", "red"] and pd.isna(out["color"].tolist()[2])


def test_a_wide_table_within_the_limit_loads_fast_and_without_warnings(tmp_path: Path) -> None:
    import time
    import warnings

    from search.data._tabular import MAX_INPUTS

    n = MAX_INPUTS // 2  # numeric columns and one categorical one, well inside the limit
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, n)).round(3), columns=[f"x{j}" for j in range(n)])
    frame["kind"] = ["a", "b"] * 20
    frame["y"] = [0, 1] * 20
    frame.loc[3, "x0"] = np.inf  # an infinite cell is imputed like a missing one
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. pandas' PerformanceWarning of a fragmented frame
        data = load_search_data({"kind": "csv", "path": str(path), "target": "y"}, seed=0)
    assert time.perf_counter() - start < 60
    assert data.x_train.shape[1] == n + 2 and np.isfinite(data.x_train).all()


@pytest.mark.parametrize(
    ("text", "task", "message"),
    [
        ("x,y\n" + "".join(f"{i},{'-inf' if i == 3 else i}\n" for i in range(12)), "regression", "non-finite"),
        ("x,y\n" + "".join(f"{i},{'1e300' if i == 3 else i}\n" for i in range(12)), "regression", "too large"),
        ("id,y\n" + "".join(f"u{i},{i % 2}\n" for i in range(10_001)), "classification", "10,001 model inputs"),
    ],
)
def test_unfit_targets_and_too_many_inputs(tmp_path: Path, text: str, task: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(SearchError, match=message) as info:
        load_search_data({"kind": "csv", "path": str(path), "target": "y", "task": task}, seed=0)
    assert "\n" not in str(info.value) and len(str(info.value)) < 600
