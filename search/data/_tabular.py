"""Tables: any CSV file, Iris and Auto MPG, as raw rows with an unfitted preprocessing recipe.

A tabular loader returns the raw rows (a pandas ``DataFrame``) of a seeded
train/test split together with an *unfitted* scikit-learn preprocessor:
:func:`search.load_search_data` fits a clone of it on the partial-train rows,
:func:`search.load_holdout_data` another clone on all training rows. Validation
and test rows therefore never shape the imputed values, the scaling or the
one-hot categories, and the preprocessing saved with the holdout model is the
one that model was trained with.

The preprocessing is one ``Pipeline``: a ``coerce`` step that casts the raw
columns (numbers from strings, categories to strings), then a
``ColumnTransformer`` with median imputation and ``StandardScaler`` for numeric
columns, most-frequent imputation and ``OneHotEncoder(handle_unknown="ignore")``
for categorical ones. Because the casting is part of the pipeline, the fitted
object alone turns raw rows (a CSV, a frame, dicts) into model inputs.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search.data._paths import data_dir
from search.data._records import Dataset, check_settings, split_train_validation
from search.data._task import Task, check_class_count
from search.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = [
    "AUTO_MPG_COLUMNS",
    "MAX_INPUTS",
    "check_mixed_columns",
    "coerce_columns",
    "load_auto_mpg",
    "load_csv",
    "load_iris",
    "make_preprocessor",
    "read_csv",
    "tabular_dataset",
]

TASKS = ("classification", "regression")
AUTO_MPG_COLUMNS = ("mpg", "cylinders", "displacement", "horsepower", "weight", "acceleration", "year", "origin")
# The fewest rows with a target that still give non-empty partial-train, validation and test parts.
_MIN_ROWS = 10
MAX_INPUTS = 10_000
"""The most model inputs a table may give after one-hot encoding (numeric columns plus categories).

Wider tables (thousands of columns, or an identifier column one-hot encoded into a
category per row) are refused with the count, before anything is written.
"""
_SHOWN_COLUMNS = 20  # column names listed in a message, at most
_SPLIT_SETTINGS = {"kind", "test_size", "validation_size"}
_CSV_SETTINGS = _SPLIT_SETTINGS | {"path", "target", "task", "categorical", "drop", "na_values"}


def read_csv(path: str | Path, *, na_values: Sequence[str] = ("?",)) -> pd.DataFrame:
    """Read a CSV file with a header row; every problem is one :class:`InputError` line.

    Args:
        path: The file.
        na_values: Strings read as missing, besides pandas' defaults (empty, ``NA``, ``nan``...).

    Raises:
        InputError: Missing, empty, header-only or unparsable file.

    Examples:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "cars.csv"
        >>> _ = path.write_text("mpg, horsepower, origin\\n18, 130, 1\\n25, ?, 3\\n")
        >>> frame = read_csv(path)
        >>> frame.columns.tolist(), frame["horsepower"].isna().tolist()
        (['mpg', 'horsepower', 'origin'], [False, True])
        >>> read_csv(path.with_name("trucks.csv"))
        Traceback (most recent call last):
        ...
        search.errors.InputError: no such file: .../trucks.csv
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    try:
        frame = pd.read_csv(path, na_values=list(na_values), skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {path} as CSV: {detail}") from None
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        header = [name.strip() for name in next(csv.reader(handle), [])]
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(f"{path} names column(s) {', '.join(map(repr, twice))} more than once; give each its own name")
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise InputError(f"{path} has a header but no data rows")
    return frame


def _category(value: Any) -> Any:
    """A categorical cell as a string (``1``, ``1.0`` and ``"1"`` alike), missing as NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.nan
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    text = str(value).strip()
    return text if text and text.lower() not in ("nan", "<na>") else np.nan


def coerce_columns(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Cast raw columns: ``numeric`` to float (unparsable and infinite cells missing), ``categorical`` to strings.

    The first step of every tabular preprocessing pipeline, so that rows typed by
    hand (``{"horsepower": "?", "origin": 1}``) are read like the CSV they came from.
    The frame is built in one go (no column-by-column inserts), so wide tables
    stay fast and pandas warns of no fragmentation.

    Examples:
        >>> import pandas as pd
        >>> coerce_columns(pd.DataFrame({"a": ["1", "?"], "b": [1.0, 2.0]}), ["a"], ["b"]).values.tolist()
        [[1.0, '1'], [nan, '2']]
        >>> coerce_columns(pd.DataFrame({"a": [float("inf"), 2.0]}), ["a"], []).values.tolist()
        [[nan], [2.0]]
    """
    import pandas as pd

    columns: dict[str, pd.Series] = {}
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        columns[column] = values.where(np.isfinite(values))
    for column in categorical:
        columns[column] = pd.Series([_category(v) for v in frame[column].tolist()], index=frame.index, dtype=object)
    return pd.DataFrame(columns, index=frame.index, columns=[*numeric, *categorical])


def _names(columns: Sequence[str]) -> str:
    """Column names for a message: the first ``_SHOWN_COLUMNS``, then how many more."""
    shown = ", ".join(map(str, columns[:_SHOWN_COLUMNS]))
    more = len(columns) - _SHOWN_COLUMNS
    return f"{shown}, ... ({more:,} more)" if more > 0 else shown


def make_preprocessor(numeric: list[str], categorical: list[str]) -> Pipeline:
    """The unfitted preprocessing of a table: cast, impute, standardize, one-hot encode.

    Examples:
        >>> make_preprocessor(["weight"], ["origin"]).steps[-1][0]
        'columns'
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numbers, list(numeric)))
    if categorical:
        categories = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)),
            ]
        )
        transformers.append(("categorical", categories, list(categorical)))
    coerce = FunctionTransformer(
        coerce_columns, kw_args={"numeric": list(numeric), "categorical": list(categorical)}, validate=False
    )
    return Pipeline([("coerce", coerce), ("columns", ColumnTransformer(transformers, sparse_threshold=0.0))])


def _split_size(settings: dict[str, Any], key: str) -> int | float:
    value = settings.get(key, 0.2)
    ok = (isinstance(value, float) and 0.0 < value < 1.0) or (
        isinstance(value, int) and not isinstance(value, bool) and value > 0
    )
    if not ok:
        raise InputError(f"[data] {key} must be a fraction in (0, 1) or a positive row count, got {value!r}")
    return value


def _column_list(settings: dict[str, Any], key: str) -> list[str]:
    value = settings.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"[data] {key} must be a list of column names, got {value!r}")
    return value


def _first_non_numeric(values: pd.Series) -> Any:
    import pandas as pd

    parsed = pd.to_numeric(values, errors="coerce")
    bad = values[parsed.isna() & values.notna()]
    return bad.iloc[0] if len(bad) else None


def tabular_dataset(
    frame: pd.DataFrame,
    *,
    target: str,
    task: str,
    seed: int,
    source: str,
    test_size: int | float = 0.2,
    categorical: Sequence[str] = (),
    drop: Sequence[str] = (),
    na_values: Sequence[str] = ("?",),
) -> Dataset:
    """Split a table into seeded train/test rows and describe its preprocessing.

    Non-numeric columns (and those named in ``categorical``) are one-hot encoded,
    the others standardized; missing cells are imputed (median, most frequent).
    Rows without a target value are dropped. Classification is binary or
    multiclass by the number of distinct target values (class names sorted), and
    its test split is stratified when every class has at least two rows.

    Args:
        frame: Raw rows, e.g. from :func:`read_csv`.
        target: The column to predict.
        task: ``"classification"`` or ``"regression"``.
        seed: Seed of the train/test split.
        source: What the rows came from, for messages (a file name).
        test_size: Fraction or number of rows held out for the one holdout test.
        categorical: Columns to one-hot encode even though they hold numbers.
        drop: Columns to ignore (identifiers, free text).
        na_values: Strings read as missing (kept for reading rows at prediction time).

    Raises:
        InputError: Missing target column, a target unfit for the task, too few rows.

    Examples:
        >>> import pandas as pd
        >>> cars = pd.DataFrame({"weight": range(2000, 4000, 100), "origin": ["us", "jp"] * 10, "mpg": range(20, 40)})
        >>> dataset = tabular_dataset(cars, target="mpg", task="regression", seed=0, source="cars.csv")
        >>> dataset.task.kind, len(dataset.x_train), len(dataset.x_test)
        ('regression', 16, 4)
        >>> dataset.schema["numeric"], dataset.schema["categorical"]
        (['weight'], ['origin'])
    """
    import pandas as pd

    columns = list(frame.columns)
    if target not in columns:
        raise InputError(f"no column {target!r} in {source} (columns: {_names(columns)})")
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} for {source} (known: {', '.join(TASKS)})")
    unknown = [c for c in (*categorical, *drop) if c not in columns]
    if unknown:
        raise InputError(f"no column(s) {', '.join(map(repr, unknown))} in {source} (columns: {_names(columns)})")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise InputError(f"{source} has no feature column besides the target {target!r}")
    frame = frame[frame[target].notna()]
    if len(frame) < _MIN_ROWS:
        raise InputError(
            f"{source} has {len(frame)} row(s) with a {target!r} value; at least {_MIN_ROWS} are needed "
            "for a train/validation/test split"
        )
    column = frame[target]
    class_names: list[str] = []
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            example = _first_non_numeric(column)
            shown = f" (e.g. {example!r})" if example is not None else ""
            raise InputError(
                f"target column {target!r} of {source} is not numeric{shown}; a regression target must be "
                "(or use --task classification)"
            )
        with np.errstate(over="ignore"):
            y = column.to_numpy(dtype=np.float32)
        infinite = ~np.isfinite(y)
        if infinite.any():
            example = column.to_numpy()[infinite][0]
            raise InputError(
                f"target column {target!r} of {source} has {int(infinite.sum())} non-finite or too large value(s) "
                f"(e.g. {example!r}); a regression target must be finite numbers"
            )
        task_obj = Task("regression")
        strata = None
    else:
        labels = [_category(v) for v in column.tolist()]
        distinct = set(labels)
        numeric_labels = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        class_names = sorted(distinct, key=float) if numeric_labels else sorted(distinct)
        if len(class_names) < 2:
            raise InputError(
                f"target column {target!r} of {source} has a single class ({class_names[0]!r}); "
                "classification needs at least two"
            )
        check_class_count(len(class_names), len(labels), f"target column {target!r} of {source}")
        index = {name: i for i, name in enumerate(class_names)}
        codes = np.array([index[label] for label in labels])
        if len(class_names) == 2:
            task_obj, y = Task("binary"), codes.astype(np.float32)
        else:
            task_obj, y = Task("multiclass", n_classes=len(class_names)), codes.astype(np.int32)
        strata = codes
    numeric = [
        c
        for c in features
        if c not in categorical and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    categories = [c for c in features if c not in numeric]
    check_mixed_columns(frame, [c for c in categories if c not in categorical], source)
    _check_width(frame, numeric, categories, source)
    rows = np.arange(len(frame))
    train, test = split_train_validation(
        strata if strata is not None else rows, validation_size=test_size, seed=seed, stratify=strata is not None
    )
    ids = [f"row/{i}" for i in frame.index]
    x = frame[features].reset_index(drop=True)
    return Dataset(
        x_train=x.iloc[train].reset_index(drop=True),
        y_train=y[train],
        x_test=x.iloc[test].reset_index(drop=True),
        y_test=y[test],
        task=task_obj,
        train_ids=[ids[i] for i in train],
        test_ids=[ids[i] for i in test],
        class_names=class_names,
        preprocessor=make_preprocessor(numeric, categories),
        schema={
            "source": source,
            "target": target,
            "task": task,
            "columns": features,
            "numeric": numeric,
            "categorical": categories,
            "na_values": list(na_values),
        },
    )


MOSTLY_NUMBERS = 0.9
"""A column whose values are at least this share of numbers, and not all, is refused rather than one-hot encoded."""


def check_mixed_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """Refuse a column of numbers with a few other values, which would silently become one category per number.

    A ``n/a``, a ``-`` or a unit typed into a numeric column makes pandas read it
    as text; one-hot encoding it then throws the numbers away.

    Raises:
        search.InputError: The column, an example and the two ways out (missing values, or categories on purpose).

    Examples:
        >>> import pandas as pd
        >>> check_mixed_columns(pd.DataFrame({"hp": [str(i) for i in range(30)] + ["n/a"]}), ["hp"], "cars.csv")
        Traceback (most recent call last):
        ...
        search.errors.InputError: column 'hp' of cars.csv holds numbers and 1 other value(s) (e.g. 'n/a'): ...
    """
    import pandas as pd

    for column in columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        parsed = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
        numbers = int(parsed.notna().sum())
        if numbers < len(values) and numbers >= MOSTLY_NUMBERS * len(values):
            other = values[parsed.isna()]
            raise InputError(
                f"column {column!r} of {source} holds numbers and {len(other):,} other value(s) "
                f"(e.g. {other.iloc[0]!r}): mark those missing (data.na_values) or, to one-hot encode the column "
                f"on purpose, name it in data.categorical"
            )


def _check_width(frame: pd.DataFrame, numeric: list[str], categorical: list[str], source: str) -> None:
    """Refuse a table that would give more than ``MAX_INPUTS`` model inputs after one-hot encoding.

    Examples:
        >>> import pandas as pd
        >>> ids = pd.DataFrame({"id": [f"row{i}" for i in range(20_000)]})
        >>> _check_width(ids, [], ["id"], "users.csv")
        Traceback (most recent call last):
        ...
        search.errors.InputError: users.csv would give 20,000 model inputs after one-hot encoding ...
    """
    n_categories = frame[categorical].nunique(dropna=True) if categorical else None
    total = len(numeric) + (int(n_categories.sum()) if n_categories is not None else 0)
    if total <= MAX_INPUTS:
        return
    widest = ""
    if n_categories is not None and len(n_categories):
        top = n_categories.sort_values(ascending=False).head(3)
        widest = "; most categories: " + ", ".join(f"{name!r} ({int(n):,})" for name, n in top.items())
    raise InputError(
        f"{source} would give {total:,} model inputs after one-hot encoding ({len(numeric):,} numeric column(s), "
        f"{total - len(numeric):,} categories of {len(categorical):,} categorical column(s){widest}); at most "
        f"{MAX_INPUTS:,} are allowed: leave columns out with [data] drop = [...] (--set data.drop=[...])"
    )


def load_csv(settings: dict[str, Any], seed: int) -> Dataset:
    """Loader of ``[data] kind = "csv"``: ``path``, ``target``, ``task`` and optional split and column settings.

    Examples:
        >>> import tempfile
        >>> import pandas as pd
        >>> path = Path(tempfile.mkdtemp()) / "cars.csv"
        >>> pd.DataFrame({"weight": range(2000, 4000, 100), "mpg": range(20, 40)}).to_csv(path, index=False)
        >>> dataset = load_csv({"kind": "csv", "path": str(path), "target": "mpg", "task": "regression"}, 0)
        >>> dataset.task.kind, dataset.x_train.shape, dataset.x_test.shape
        ('regression', (16, 1), (4, 1))
    """
    check_settings(settings, _CSV_SETTINGS, "csv")
    path, target = settings.get("path"), settings.get("target")
    if not path or not target:
        raise InputError(
            "the csv study needs a file and a target column: "
            "python -m search run csv --path FILE --target COLUMN --task classification|regression"
        )
    task = settings.get("task", "classification")
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} for a csv study (known: {', '.join(TASKS)})")
    na_values = _column_list(settings, "na_values") if "na_values" in settings else ["?"]
    frame = read_csv(Path(str(path)).expanduser(), na_values=na_values)
    return tabular_dataset(
        frame,
        target=str(target),
        task=task,
        seed=seed,
        source=str(path),
        test_size=_split_size(settings, "test_size"),
        categorical=_column_list(settings, "categorical"),
        drop=_column_list(settings, "drop"),
        na_values=na_values,
    )


def load_auto_mpg(settings: dict[str, Any], seed: int) -> Dataset:
    """Loader of ``[data] kind = "auto-mpg"``: ``auto-mpg.csv`` from ``SEARCH_DATA_DIR``.

    ``mpg`` is the regression target, ``?`` marks a missing value and ``origin``
    (1, 2, 3) is categorical.

    Raises:
        InputError: The data folder or the file is missing, or the file lacks a column.

    Examples:
        >>> load_auto_mpg({"kind": "auto-mpg"}, 42).x_train.shape  # SEARCH_DATA_DIR holds auto-mpg.csv
        (318, 7)
    """
    check_settings(settings, _SPLIT_SETTINGS, "auto-mpg")
    folder = data_dir()
    if folder is None:
        raise InputError("auto-mpg.csv not found: set SEARCH_DATA_DIR to the folder that holds it")
    path = folder / "auto-mpg.csv"
    if not path.is_file():
        raise InputError(f"auto-mpg.csv not found: no file {path} (SEARCH_DATA_DIR={folder})")
    frame = read_csv(path, na_values=["?"])
    missing = [c for c in AUTO_MPG_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks the Auto MPG column(s) {', '.join(missing)}")
    return tabular_dataset(
        frame[list(AUTO_MPG_COLUMNS)],
        target="mpg",
        task="regression",
        seed=seed,
        source=str(path),
        test_size=_split_size(settings, "test_size"),
        categorical=["origin"],
    )


def load_iris(settings: dict[str, Any], seed: int) -> Dataset:
    """Loader of ``[data] kind = "iris"``: scikit-learn's bundled copy, 150 flowers of 3 species.

    Examples:
        >>> load_iris({"kind": "iris"}, 42).class_names
        ['setosa', 'versicolor', 'virginica']
    """
    from sklearn import datasets

    check_settings(settings, _SPLIT_SETTINGS, "iris")
    bunch = datasets.load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame["species"] = [str(bunch.target_names[i]) for i in bunch.target]
    return tabular_dataset(
        frame,
        target="species",
        task="classification",
        seed=seed,
        source="sklearn.datasets.load_iris",
        test_size=_split_size(settings, "test_size"),
    )
