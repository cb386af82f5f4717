"""A user's own data in memory: arrays, data frames and streams, as a :class:`Dataset`, and stored once as a file.

Arrays and frames travel: :func:`keep_dataset` gives the one file whose
SHA-256 the study records, and the ``stored`` loader reads that file back in any
process, on any machine, refusing a file whose digest differs. Streams
(``tf.data.Dataset``, ``keras.utils.PyDataset``, generator functions) stay in the
process that was given them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from search.data._paths import name_key
from search.data._records import Dataset, check_settings, n_rows, several, split_train_validation
from search.data._tabular import check_mixed_columns, make_preprocessor
from search.data._task import Task, check_class_count
from search.errors import InputError

__all__ = [
    "dataset_from_memory",
    "file_sha256",
    "given_digests",
    "infer_task",
    "is_stream",
    "keep_dataset",
    "load_stored",
]

_FORMAT = 1


def is_stream(x: Any) -> bool:
    """Whether ``x`` is data that yields batches (``tf.data``, ``PyDataset``, a generator) rather than rows.

    Examples:
        >>> is_stream(np.zeros((2, 3))), is_stream(lambda: iter([]))
        (False, True)
    """
    if isinstance(x, np.ndarray) or hasattr(x, "iloc") or isinstance(x, list | tuple):
        return False
    kind = type(x).__module__ + "." + type(x).__name__
    tf_dataset = "tensorflow" in kind and "Dataset" in kind
    py_dataset = hasattr(x, "__getitem__") and hasattr(x, "on_epoch_end")
    return tf_dataset or py_dataset or callable(x) or hasattr(x, "__next__")


def infer_task(y: Any, task: str | Task | None = None) -> Task:
    """The task of targets ``y``: regression for non-integer numbers, else binary or multiclass by class count.

    Args:
        y: Targets: class labels (numbers or strings) or numbers.
        task: ``"binary"``, ``"multiclass"``, ``"regression"``, ``"classification"``
            (binary or multiclass by class count), or a :class:`Task`; ``None``: inferred.

    Examples:
        >>> infer_task(np.array([0, 1, 1])), infer_task(np.array([0.5, 2.0])), infer_task(np.array([0, 2, 1]))
        (Task(kind='binary', n_classes=2), Task(kind='regression', n_classes=2), Task(kind='multiclass', n_classes=3))
    """
    if isinstance(task, Task):
        return task
    values = np.asarray(y)
    if task == "regression":
        return Task("regression")
    if values.ndim == 2 and values.shape[1] > 1:
        raise InputError(f"targets of shape {values.shape} look one-hot: give class numbers (argmax) instead")
    numeric = np.issubdtype(values.dtype, np.number) and not np.issubdtype(values.dtype, np.bool_)
    if task is None and numeric and np.issubdtype(values.dtype, np.floating):
        finite = values[np.isfinite(values)]
        if len(finite) < values.size:
            raise InputError("targets hold NaN or infinite values")
        if not np.all(finite == np.round(finite)):
            return Task("regression")
    n_classes = len(np.unique(values))
    if task not in (None, "binary", "multiclass", "classification"):
        raise InputError(f"unknown task {task!r} (known: binary, multiclass, classification, regression)")
    if n_classes < 2:
        raise InputError("the targets hold a single class; classification needs at least two")
    if task == "binary" and n_classes != 2:
        raise InputError(f"task 'binary' but the targets hold {n_classes} classes")
    if n_classes == 2 and task != "multiclass":
        return Task("binary")
    return Task("multiclass", n_classes=n_classes)


def _labels(y: Any, task: Task) -> tuple[np.ndarray, list[str]]:
    """Targets as model targets: ``float32`` values, or class numbers and their names.

    A column of targets (shape ``(n, 1)``) keeps its shape: metric objects such as
    ``keras.metrics.BinaryCrossentropy`` want targets of the model output's rank.
    """
    values = np.asarray(y).reshape(len(y), *np.shape(y)[1:])
    if task.kind == "regression":
        return values.astype(np.float32), []
    names = sorted(np.unique(values).tolist(), key=lambda v: (str(type(v)), v))
    index = {name: i for i, name in enumerate(names)}
    codes = np.array([index[v] for v in values.reshape(-1).tolist()]).reshape(values.shape)
    dtype = np.float32 if task.kind == "binary" else np.int32
    shown = [str(int(n)) if isinstance(n, float) and n.is_integer() else str(n) for n in names]
    return codes.astype(dtype), shown


def _task_of_loss(model_task: tuple[Task, str], y: Any) -> str:
    """The task of targets ``y`` for a model whose compiled loss trains for ``model_task``; a contradiction is one line.

    Examples:
        >>> _task_of_loss((Task("multiclass", 3), "sparse_categorical_crossentropy"), np.array([0, 1]))
        'multiclass'
        >>> _task_of_loss((Task("binary"), "binary_crossentropy"), np.array([0, 1, 2]))
        Traceback (most recent call last):
        ...
        search.errors.InputError: the model's loss binary_crossentropy is for two classes but y holds 3 classes: ...
    """
    loss_kind, loss = model_task
    if loss_kind.kind == "regression":
        values = np.asarray(y)
        if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.bool_):
            raise InputError(
                f"the model's loss {loss} is for numbers but y holds {values.dtype} labels:"
                " compile a classification loss (binary_crossentropy, sparse_categorical_crossentropy) or give numbers"
            )
        return "regression"
    found = infer_task(y)
    if found.kind == "regression":
        raise InputError(
            f"the model's loss {loss} is for classes but y holds non-integer numbers:"
            " give class numbers, or compile a regression loss (mse, mae, huber) or give task="
        )
    if loss_kind.kind == "binary" and found.n_classes > 2:
        raise InputError(
            f"the model's loss {loss} is for two classes but y holds {found.n_classes} classes:"
            f" compile sparse_categorical_crossentropy with {found.n_classes} output units"
        )
    if loss_kind.kind == "multiclass" and 2 < loss_kind.n_classes < found.n_classes:  # 2: width not known
        raise InputError(
            f"the model has {loss_kind.n_classes} outputs for its loss {loss} but y holds {found.n_classes} classes"
        )
    return loss_kind.kind


def _as_stream(stream: Any, what: str) -> Any:
    """A stream Keras can read once per epoch: a generator function becomes a ``tf.data.Dataset``."""
    if stream is None or not is_stream(stream) or not callable(stream):
        if hasattr(stream, "__next__") and not hasattr(stream, "on_epoch_end"):
            raise InputError(f"{what} is a generator, which runs out after one epoch: give its function instead")
        return stream
    import tensorflow as tf

    first = next(iter(stream()), None)
    if not isinstance(first, tuple) or len(first) != 2:
        raise InputError(f"{what}: the generator function must yield (x, y) batches")
    signature = tuple(tf.TensorSpec((None, *np.shape(part)[1:]), tf.as_dtype(np.asarray(part).dtype)) for part in first)
    return tf.data.Dataset.from_generator(stream, output_signature=signature)


def _xy(pair: Any, what: str) -> tuple[Any, Any, Any]:
    """``(x, y)`` or ``(x, y, sample_weight)``, as ``model.fit`` takes ``validation_data``."""
    if not isinstance(pair, tuple | list) or len(pair) not in (2, 3):
        raise InputError(f"{what} must be an (x, y) or (x, y, sample_weight) tuple, got {type(pair).__name__}")
    return pair[0], pair[1], pair[2] if len(pair) == 3 else None


def _inputs(x: Any, what: str) -> Any:
    """Inputs as the models read them, checked: arrays (NaN and infinities refused), SciPy sparse matrices as CSR
    (their stored values checked), pandas frames as they are, and several inputs (a dict or list of them) alike."""
    import scipy.sparse

    if isinstance(x, dict):
        return {k: _inputs(v, f"{what}[{k!r}]") for k, v in x.items()}
    if several(x):
        return [_inputs(v, f"{what}[{i}]") for i, v in enumerate(x)]
    if hasattr(x, "iloc"):
        return x
    if scipy.sparse.issparse(x):
        matrix = scipy.sparse.csr_matrix(x, dtype=np.float32)  # any format (COO, CSC, arrays): rows by position
        if not np.all(np.isfinite(matrix.data)):
            raise InputError(f"{what}: the inputs hold NaN or infinite values")
        return matrix
    values = np.asarray(x)
    if np.issubdtype(values.dtype, np.number) and not np.all(np.isfinite(values)):
        raise InputError(f"{what}: the inputs hold NaN or infinite values")
    return values


def _weights(weights: Any, n: int, what: str) -> np.ndarray | None:
    """A weight per example: ``n`` finite numbers of 0 or more, not all 0."""
    if weights is None:
        return None
    try:
        values = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{what}: weights must be numbers, got {type(weights).__name__}") from None
    if len(values) != n:
        raise InputError(f"{what}: {len(values)} weights but {n} examples")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or not np.any(values > 0):
        raise InputError(f"{what}: weights must be finite, 0 or more, and not all 0")
    return values.astype(np.float32)


def _class_weight(class_weight: Any, class_names: list[str], task: Task) -> dict[int, float] | None:
    """Keras' ``class_weight`` by class number, from weights by the user's labels (as in ``y``)."""
    if class_weight is None:
        return None
    if task.kind == "regression":
        raise InputError("class_weight is for classification: give sample_weight for a regression")
    if not isinstance(class_weight, dict) or not class_weight:
        raise InputError(f"class_weight must be a dict of a weight per class, got {class_weight!r}")
    numbers = {name: i for i, name in enumerate(class_names)}
    weights: dict[int, float] = {}
    for label, weight in class_weight.items():
        shown = str(int(label)) if isinstance(label, float) and label.is_integer() else str(label)
        if shown not in numbers:
            raise InputError(f"class_weight names class {label!r}, which y does not hold (classes: {class_names})")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not (weight >= 0 and np.isfinite(weight)):
            raise InputError(f"class_weight of class {label!r} must be a finite number of 0 or more, got {weight!r}")
        weights[numbers[shown]] = float(weight)
    return weights


def dataset_from_memory(
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_split: float | None = None,
    test_data: Any = None,
    task: str | Task | None = None,
    seed: int = 0,
    sample_weight: Any = None,
    class_weight: dict[Any, float] | None = None,
    model_task: tuple[Task, str] | None = None,
) -> Dataset:
    """A :class:`Dataset` of in-memory data: arrays, SciPy sparse matrices, ``pandas.DataFrame``, or streams.

    Inputs may also be several (a dict or list of arrays, as ``model.fit`` takes
    them for a model of several inputs). Arrays and frames are checked for
    matching lengths and finite numbers. A frame's non-numeric columns are one-hot
    encoded and the others standardized, by a preprocessor fitted on the training
    rows only (as for CSV studies). ``y`` may name a column of the frame. Without
    ``validation_data``, the search splits off ``validation_split`` (default 0.2)
    of the training rows, stratified for classification. ``sample_weight`` (one
    per training example, and a third item of ``validation_data``) and
    ``class_weight`` (by the labels of ``y``) weigh training as Keras' ``fit``
    does. Streams need ``validation_data`` (a stream too) and give their batches
    as they are. Without ``task``, the task is the one the model's compiled loss
    trains for (``model_task``: the task and the loss's name), checked against
    the targets, or else the targets'.

    Raises:
        search.InputError: Mismatched lengths, missing targets, non-finite values,
            weights or classes that do not fit, a stream without validation data
            or task, targets the model's loss cannot train on.

    Examples:
        >>> x, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
        >>> dataset = dataset_from_memory(x, y, test_data=(x[:4], y[:4]))
        >>> dataset.task.kind, dataset.x_train.shape, dataset.x_test.shape, dataset.x_val is None
        ('binary', (10, 3), (4, 3), True)
        >>> dataset_from_memory(x, y, class_weight={1: 3.0}).class_weight
        {1: 3.0}
    """
    if is_stream(x):
        x, validation_data, test_data = (
            _as_stream(s, what)
            for s, what in ((x, "x"), (validation_data, "validation_data"), (test_data, "test_data"))
        )
        if validation_data is None:
            raise InputError("streamed data (tf.data, PyDataset, generators) needs validation_data")
        if y is not None:
            raise InputError("streamed data yields (x, y) batches: give no y")
        if sample_weight is not None or class_weight is not None:
            raise InputError("streamed data carries its own weights: yield (x, y, sample_weight) batches")
        if task is None and model_task is not None:
            task = model_task[0]
        if task is None:
            raise InputError(
                "streamed data needs task= ('binary', 'multiclass' or 'regression'), or a model compiled with"
                " a loss that tells it (binary_crossentropy, sparse_categorical_crossentropy, mse...)"
            )
        test_x = test_data[0] if isinstance(test_data, tuple | list) else test_data
        return Dataset(
            x_train=x,
            y_train=None,
            x_test=test_x,
            y_test=None,
            task=infer_task([0, 1], task),  # a Task as it is; a kind's name, with the class count unknown
            train_ids=[],
            test_ids=[],
            x_val=validation_data,
            y_val=None,
        )
    frame = hasattr(x, "iloc")
    if frame and isinstance(y, str):
        y, x = x[y], x.drop(columns=[y])
    if y is None:
        raise InputError("y is missing: give targets (or, for a data frame, the name of its target column)")
    if task is None and model_task is not None:
        task = _task_of_loss(model_task, y)
    x_val = y_val = w_val = x_test = y_test = None
    if validation_data is not None:
        x_val, y_val, w_val = _xy(validation_data, "validation_data")
    if test_data is not None:
        x_test, y_test, w_test = _xy(test_data, "test_data")
        if w_test is not None:
            raise InputError("test_data takes (x, y): the holdout scores every test example alike")
    parts = [("x", x, y), ("validation_data", x_val, y_val), ("test_data", x_test, y_test)]
    inputs: list[Any] = []
    for what, xs, ys in parts:
        if xs is None:
            inputs.append(None)
            continue
        lengths = {n_rows(v) for v in (xs.values() if isinstance(xs, dict) else xs)} if several(xs) else {n_rows(xs)}
        if len(lengths) > 1:
            counts = ", ".join(map(str, sorted(lengths)))
            raise InputError(f"{what}: its inputs have different numbers of rows ({counts})")
        if n_rows(xs) != len(ys):
            raise InputError(f"{what}: {n_rows(xs)} inputs but {len(ys)} targets")
        inputs.append(_inputs(xs, what))
    x, x_val, x_test = inputs
    all_y = np.concatenate(
        [np.asarray(ys).reshape(len(ys), *np.shape(ys)[1:]) for _, xs, ys in parts if xs is not None]
    )
    kind = infer_task(all_y, task)
    if kind.kind == "multiclass":
        check_class_count(kind.n_classes, len(all_y), "y")
    codes, class_names = _labels(all_y, kind)
    n_train, n_val = len(y), 0 if y_val is None else len(y_val)
    y_train, y_val_codes, y_test_codes = codes[:n_train], codes[n_train : n_train + n_val], codes[n_train + n_val :]
    if kind.kind == "regression" and not np.all(np.isfinite(codes)):
        raise InputError("the targets hold NaN or infinite values")
    w_train = _weights(sample_weight, n_train, "sample_weight")
    if w_val is not None and w_train is None:
        raise InputError("validation_data has sample weights: give sample_weight for the training examples too")
    w_val = _weights(w_val, n_val, "validation_data's sample weights")
    if w_train is not None and x_val is not None and w_val is None:
        w_val = np.ones(n_val, np.float32)  # Keras weighs validation rows alike when given none
    weights = _class_weight(class_weight, class_names, kind)
    preprocessor, schema = None, {}
    if frame:
        import pandas as pd

        types = pd.api.types
        numeric = [c for c in x.columns if types.is_numeric_dtype(x[c]) and not types.is_bool_dtype(x[c])]
        categorical = [c for c in x.columns if c not in numeric]
        check_mixed_columns(x, categorical, "the data frame")
        preprocessor = make_preprocessor(list(map(str, numeric)), list(map(str, categorical)))
        schema = {"source": "a data frame", "columns": list(map(str, x.columns)), "numeric": numeric}
        schema |= {"categorical": categorical, "task": kind.kind, "na_values": []}
        x, x_val, x_test = (None if f is None else f.reset_index(drop=True) for f in (x, x_val, x_test))
    if x_val is None:
        split = validation_split if validation_split is not None else 0.2
        if not 0.0 < split < 1.0:
            raise InputError(f"validation_split must be in (0, 1), got {split}")
        split_train_validation(y_train, validation_size=split, seed=seed)  # too few rows fail here
    return Dataset(
        x_train=x,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test_codes if x_test is not None else None,
        task=kind,
        train_ids=[f"train/{i}" for i in range(n_train)],
        test_ids=[f"test/{i}" for i in range(len(y_test_codes))],
        class_names=class_names,
        preprocessor=preprocessor,
        schema=schema,
        x_val=x_val,
        y_val=y_val_codes if x_val is not None else None,
        w_train=w_train,
        w_val=w_val,
        class_weight=weights,
    )


def _serialize(dataset: Dataset) -> bytes:
    """The bytes of the file that the ``stored`` loader reads: arrays or frames, not streams."""
    import joblib

    buffer = io.BytesIO()
    names = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val", "w_train", "w_val", "class_weight")
    fields = {k: getattr(dataset, k) for k in names}
    fields |= {"task": [dataset.task.kind, dataset.task.n_classes], "class_names": dataset.class_names}
    fields |= {"preprocessor": dataset.preprocessor, "schema": dataset.schema, "format": _FORMAT}
    joblib.dump(fields, buffer)
    return buffer.getvalue()


def keep_dataset(dataset: Dataset, name: str) -> tuple[str, bytes | None]:
    """Keep ``dataset`` of study ``name`` for this process: the digest its study records, and its file's bytes.

    The ``stored`` loader of this process returns ``dataset`` for that digest
    without reading a file: the process that was given the data (``tune``) reads
    it from memory; other processes read the file, whose bytes are returned (the
    digest is their SHA-256). Streams exist only here: their digest is
    ``memory-<name key>``, and they have no file (``None``).

    Examples:
        >>> x, y = np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2
        >>> digest, blob = keep_dataset(dataset_from_memory(x, y), "my-study")
        >>> digest == hashlib.sha256(blob).hexdigest(), digest in given_digests()
        (True, True)
        >>> stream = Dataset(x_train=lambda: iter([]), y_train=None, x_test=None, y_test=None, task=Task("binary"),
        ...                  train_ids=[], test_ids=[])
        >>> digest, blob = keep_dataset(stream, "streamed")
        >>> digest.startswith("memory-streamed-"), blob
        (True, None)
    """
    blob: bytes | None = None
    if is_stream(dataset.x_train):
        digest = f"memory-{name_key(name)}"
    else:
        blob = _serialize(dataset)
        digest = hashlib.sha256(blob).hexdigest()
    _GIVEN[digest] = dataset
    return digest, blob


_GIVEN: dict[str, Dataset] = {}


def given_digests() -> list[str]:
    """The digests of the data sets this process was given (see :func:`keep_dataset`)."""
    return list(_GIVEN)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_stored(settings: dict[str, Any], seed: int) -> Dataset:
    """The ``stored`` loader: a file of :func:`keep_dataset`, read only if its SHA-256 matches.

    ``settings["root"]`` is the folder of the study's artifacts, added by the
    engine when it loads the data (it is not part of the stored definition).
    """
    import joblib

    check_settings(settings, {"kind", "file", "sha256", "signature", "root", "validation_size"}, "stored")
    digest = str(settings.get("sha256", ""))
    if digest in _GIVEN:
        return _GIVEN[digest]
    if digest.startswith("memory-"):
        raise InputError("this study's data was streamed in the process that tuned it: it cannot be loaded here")
    root, name = settings.get("root"), str(settings.get("file", ""))
    if not root or not name or Path(name).name != name:
        raise InputError(f"stored data needs a file name inside the study's artifacts, got {name!r}")
    path = Path(root) / "data" / name
    if not path.is_file():
        raise InputError(f"the study's data file {path} is missing (was the artifact folder moved?)")
    if file_sha256(path) != digest:
        raise InputError(f"the study's data file {path} does not match the SHA-256 recorded with the study; refused")
    fields = joblib.load(path)
    kind, n_classes = fields["task"]
    return Dataset(
        x_train=fields["x_train"],
        y_train=fields["y_train"],
        x_test=fields["x_test"],
        y_test=fields["y_test"],
        task=Task(kind, n_classes),
        train_ids=[f"train/{i}" for i in range(len(fields["y_train"]))],
        test_ids=[] if fields["y_test"] is None else [f"test/{i}" for i in range(len(fields["y_test"]))],
        class_names=list(fields["class_names"]),
        preprocessor=fields["preprocessor"],
        schema=dict(fields["schema"]),
        x_val=fields["x_val"],
        y_val=fields["y_val"],
        w_train=fields.get("w_train"),  # files of an earlier version keep no weights
        w_val=fields.get("w_val"),
        class_weight=fields.get("class_weight"),
    )
