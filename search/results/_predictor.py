"""The holdout model with its fitted preprocessing: save, reload, predict from raw rows."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search import models
from search.data import Task, as_features, read_csv
from search.engine import OpenedStudy, closes_storages, open_existing
from search.errors import InputError
from search.results._stored import HoldoutResult, holdout_part, model_name, read_holdout, stored_kinds

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PREPROCESSING_SUFFIX", "Predictor", "load_predictor"]

PREPROCESSING_SUFFIX = ".preprocessing.joblib"
# Bump when the layout of the preprocessing file changes.
_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Predictor:
    """A trained Keras model and the preprocessing it was trained with.

    Attributes:
        model: The ``keras.Model``.
        preprocessor: Fitted scikit-learn transformer from raw rows to model inputs.
        task: What the model predicts.
        class_names: Class names by label (classification).
        schema: The raw columns: ``columns`` (inputs, in order), ``target``,
            ``numeric``, ``categorical``, ``na_values``.

    Examples:
        Usually the ``holdout`` step's (see :func:`load_predictor`); here an untrained
        regression model on two raw columns, standardized:

        >>> import keras
        >>> import pandas as pd
        >>> from sklearn.preprocessing import StandardScaler
        >>> from search.data import Task
        >>> cars = pd.DataFrame({"weight": [2130.0, 3504.0], "year": [70.0, 82.0]})
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> predictor = Predictor(model, StandardScaler().fit(cars), Task("regression"), [], {"columns": list(cars)})
        >>> predictor.transform({"weight": 2130, "year": 70, "mpg": 27.0})  # the target column is ignored
        array([[-1., -1.]], dtype=float32)
        >>> predictor.predict(cars).shape  # one value per car
        (2,)
    """

    model: Any
    preprocessor: Any
    task: Task
    class_names: list[str]
    schema: dict[str, Any]

    @property
    def columns(self) -> list[str]:
        """The raw input columns the model needs."""
        return list(self.schema.get("columns", []))

    def frame(self, rows: Any) -> pd.DataFrame:
        """Raw rows as a frame of the input columns: a frame, one dict, a list of dicts or a CSV path.

        Extra columns (the target, say) are ignored.

        Raises:
            InputError: A needed column is missing, or the CSV cannot be read.
        """
        import pandas as pd

        if isinstance(rows, pd.DataFrame):
            frame = rows
        elif isinstance(rows, Mapping):
            frame = pd.DataFrame([dict(rows)])
        elif isinstance(rows, str | os.PathLike):
            frame = read_csv(Path(rows), na_values=self.schema.get("na_values", ["?"]))
        elif isinstance(rows, Sequence) and all(isinstance(r, Mapping) for r in rows):
            frame = pd.DataFrame([dict(r) for r in rows])
        else:
            raise TypeError(f"rows must be a DataFrame, a dict, a list of dicts or a CSV path, not {type(rows)}")
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)} (the model reads {', '.join(self.columns)})")
        return frame[self.columns]

    def transform(self, rows: Any) -> Any:
        """Model inputs (``float32``) of raw rows; ready arrays as they are when there is no preprocessing.

        A model of several inputs takes a dict (by input name) or a list of
        arrays, as ``model.fit`` took them.
        """
        if self.preprocessor is not None:
            return as_features(self.preprocessor.transform(self.frame(rows)))
        if isinstance(rows, Mapping):
            return {key: _ready(value) for key, value in rows.items()}
        several = len(getattr(self.model, "inputs", None) or []) > 1  # also an ensemble over several representations
        if isinstance(rows, list | tuple) and several:
            return [_ready(value) for value in rows]
        return _ready(rows)

    def predict_scores(self, rows: Any) -> np.ndarray:
        """The model's raw outputs: probabilities (classification) or values (regression)."""
        import scipy.sparse

        inputs = self.transform(rows)
        if (
            not scipy.sparse.issparse(inputs)
            and not isinstance(inputs, list | dict)
            and any(getattr(t, "sparse", False) for t in getattr(self.model, "inputs", None) or [])
        ):
            inputs = scipy.sparse.csr_matrix(inputs)  # dense rows for a model trained on sparse ones
        return np.asarray(self.model.predict(inputs, batch_size=1024, verbose=0))

    def predict(self, rows: Any) -> np.ndarray:
        """Predicted values (regression) or class names (classification), one per row.

        Examples:
            >>> import tempfile
            >>> import keras
            >>> import pandas as pd
            >>> from sklearn.preprocessing import StandardScaler
            >>> from search.data import Task
            >>> flowers = pd.DataFrame({"petal length (cm)": [1.4, 5.1], "petal width (cm)": [0.2, 1.8]})
            >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
            >>> species = ["setosa", "versicolor", "virginica"]
            >>> predictor = Predictor(model, StandardScaler().fit(flowers), Task("multiclass", 3), species,
            ...                       {"columns": list(flowers.columns)})
            >>> path = Path(tempfile.mkdtemp()) / "flowers.csv"
            >>> flowers.to_csv(path, index=False)
            >>> names = predictor.predict(path)  # untrained: any species
            >>> len(names), set(names) <= set(species)
            (2, True)
        """
        scores = self.predict_scores(rows)
        if self.task.kind == "regression":
            return scores.reshape(-1)
        labels = (scores.reshape(-1) > 0.5).astype(int) if self.task.kind == "binary" else scores.argmax(axis=1)
        names = self.class_names or [str(i) for i in range(self.task.output_units)]
        return np.array([names[i] for i in labels], dtype=object)

    def save(self, folder: str | Path, name: str) -> tuple[Path, Path]:
        """Write ``<name>.keras`` and ``<name>.preprocessing.joblib`` into ``folder``.

        Returns:
            ``(model_path, preprocessing_path)``.

        Examples:
            >>> import tempfile
            >>> import keras
            >>> from sklearn.preprocessing import StandardScaler
            >>> from search.data import Task
            >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
            >>> scaler = StandardScaler().fit([[2130.0, 70.0], [3504.0, 82.0]])
            >>> predictor = Predictor(model, scaler, Task("regression"), [], {"columns": ["weight", "year"]})
            >>> folder = Path(tempfile.mkdtemp())
            >>> model_path, preprocessing_path = predictor.save(folder / "models", "auto-mpg")
            >>> model_path.relative_to(folder), preprocessing_path.relative_to(folder)
            (PosixPath('models/auto-mpg.keras'), PosixPath('models/auto-mpg.preprocessing.joblib'))
            >>> Predictor.load(model_path, preprocessing_path).columns
            ['weight', 'year']
        """
        import joblib
        import sklearn

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        model_path = folder / f"{name}.keras"
        preprocessing_path = folder / f"{name}{PREPROCESSING_SUFFIX}"
        models.save_model(self.model, model_path)
        bundle = {
            "format": _FORMAT,
            "preprocessor": self.preprocessor,
            "task": {"kind": self.task.kind, "n_classes": self.task.n_classes},
            "class_names": list(self.class_names),
            "schema": self.schema,
            "sklearn_version": sklearn.__version__,
        }
        joblib.dump(bundle, preprocessing_path)
        return model_path, preprocessing_path

    @classmethod
    def load(cls, model_path: str | Path, preprocessing_path: str | Path, *, sha256: str | None = None) -> Predictor:
        """Read a model and its preprocessing written by :meth:`save`.

        The preprocessing file is a pickle: load only files this tool wrote. With
        ``sha256`` (what the ``holdout`` step recorded on the study), a file whose
        bytes do not match is refused before it is unpickled.

        Raises:
            InputError: A file is missing, altered (``sha256``) or not of this format.

        Examples:
            Files written by :meth:`save` (see its example); a missing one is refused:

            >>> Predictor.load("models/auto-mpg.keras", "models/auto-mpg.preprocessing.joblib")
            Traceback (most recent call last):
            ...
            search.errors.InputError: no such file: models/auto-mpg.keras
        """
        import joblib

        for path in (model_path, preprocessing_path):
            if not Path(path).is_file():
                raise InputError(f"no such file: {path}")
        if sha256 is not None and hashlib.sha256(Path(preprocessing_path).read_bytes()).hexdigest() != sha256:
            raise InputError(
                f"the preprocessing file {preprocessing_path} does not match the SHA-256 recorded with the holdout "
                "model; refused (run python -m search holdout STUDY --force to write it again)"
            )
        try:
            bundle = joblib.load(preprocessing_path)
        except Exception as exc:  # truncated or not a joblib file
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            raise InputError(f"{preprocessing_path} is not a readable preprocessing file ({detail})") from None
        if not isinstance(bundle, dict) or bundle.get("format") != _FORMAT:
            raise InputError(f"{preprocessing_path} is not a preprocessing file of this version")
        return cls(
            model=_load_model(Path(model_path), "write it again with python -m search holdout STUDY --force"),
            preprocessor=bundle["preprocessor"],
            task=Task(**bundle["task"]),
            class_names=list(bundle["class_names"]),
            schema=dict(bundle["schema"]),
        )


@closes_storages
def load_predictor(
    name: str,
    *,
    storage: str | None = None,
    trial: int | None = None,
    ensemble: int = 1,
    allow_modules: Sequence[str] = (),
) -> Predictor:
    """The holdout model of a study with its fitted preprocessing, ready for raw rows (or ready arrays).

    Reads the files the ``holdout`` step saved, by the names this tool gives them
    in the study's artifact store (``models/<key>.keras``; never a path the
    database names), each only when its bytes match the SHA-256 the holdout
    recorded; the preprocessing file, a pickle, also only when this user's key
    signed its digest (a holdout this user computed) or ``allow_modules`` holds
    ``pickled``.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.
        trial: The model of ``holdout --trial N`` (a chosen trial); default: the best trial's.
        ensemble: The ensemble of ``holdout --ensemble K`` (one model averaging K).
        allow_modules: ``["pickled"]`` to read a preprocessing file this user did not sign
            (see the trust model in the docs).

    Raises:
        InputError: No such study, no such holdout (the message names those that
            exist), a file that is missing, altered, unsigned or unreadable.

    Examples:
        >>> import tempfile
        >>> from search import evaluate_holdout, load_predictor, run_study
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> _ = run_study("iris", n_trials=1, storage=url, show_progress=False, overrides={"max_epochs": 2})
        >>> _ = evaluate_holdout("iris", storage=url, show_progress=False)
        >>> predictor = load_predictor("iris", storage=url)
        >>> predictor.predict([{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5,
        ...                     "petal length (cm)": 1.4, "petal width (cm)": 0.2}])  # doctest: +ELLIPSIS
        array([...], dtype=object)
        >>> predictor.class_names
        ['setosa', 'versicolor', 'virginica']
    """
    opened = open_existing(name, storage=storage, allow_modules=allow_modules)
    holdout = read_holdout(opened.study, trial, ensemble=ensemble)
    if holdout is None:
        raise InputError(_no_holdout(opened.study, name, trial, ensemble))
    again = _recreate(name, trial, ensemble)
    key = model_name(opened.name, trial, ensemble=ensemble)
    model_blob = _proven(opened, f"models/{key}.keras", holdout.model_sha256, again)
    with tempfile.TemporaryDirectory(prefix="search-predictor-") as tmp:
        model_path = Path(tmp) / f"{key}.keras"
        model_path.write_bytes(model_blob)
        if not holdout.preprocessing_path:  # ready arrays: the model reads them as they are
            names = [str(n) for n in holdout.per_class or {}]
            return _array_predictor(_load_model(model_path, again), _stored_task(holdout, again), names)
        kept, digest = f"models/{key}{PREPROCESSING_SUFFIX}", holdout.preprocessing_sha256
        if digest is None:
            raise InputError(f"the holdout of study {name!r} recorded no SHA-256 of its preprocessing; {again}")
        opened.check_pickle("holdout preprocessing", kept, digest, holdout.preprocessing_signature)
        preprocessing_path = Path(tmp) / f"{key}{PREPROCESSING_SUFFIX}"
        preprocessing_path.write_bytes(_proven(opened, kept, digest, again))
        return Predictor.load(model_path, preprocessing_path, sha256=digest)


def _recreate(name: str, trial: int | None, ensemble: int) -> str:
    """How to write a holdout's files again: the exact command."""
    part = holdout_part(trial, ensemble=ensemble)
    which = f" --{part.replace('-', ' ')}" if part else ""
    return f"re-create the holdout with: python -m search holdout {name}{which} --force"


def _proven(opened: OpenedStudy, name: str, digest: Any, again: str) -> bytes:
    """The bytes of ``name`` in the study's store (a name this tool builds), when they match the recorded SHA-256.

    Raises:
        InputError: No digest recorded, no such file, or other bytes.
    """
    store = opened.store
    if not isinstance(digest, str) or not digest:
        raise InputError(f"no SHA-256 is recorded for {store.describe(name)}, so it is not read; {again}")
    blob = store.read(name)
    if blob is None:
        raise InputError(f"no such file: {store.describe(name)} (the holdout's file in the study's artifacts)")
    if hashlib.sha256(blob).hexdigest() != digest:
        raise InputError(
            f"{store.describe(name)} does not match the SHA-256 recorded with the holdout model; refused ({again})"
        )
    return blob


def _stored_task(holdout: HoldoutResult, again: str) -> Task:
    """The task a holdout record names (a multiclass one with its classes)."""
    if holdout.task == "multiclass":
        return Task("multiclass", max(2, len(holdout.per_class or {})))
    if holdout.task in ("binary", "regression"):
        return Task(str(holdout.task))
    raise InputError(f"the holdout record names no task this tool knows ({holdout.task!r}); {again}")


def _load_model(path: Path, again: str) -> Any:
    """A saved ``.keras`` model (Keras' ``safe_mode``), or one line saying it is not one."""
    try:
        return models.load_model(path)
    except Exception as exc:  # a damaged or foreign file: Keras raises many kinds, with long messages
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise InputError(f"{path.name} is not a readable .keras model ({detail}); {again}") from None


def _no_holdout(study: Any, name: str, trial: int | None, ensemble: int) -> str:
    """What to say when the asked-for holdout does not exist: which ones do, and the call that loads each."""
    part = holdout_part(trial, ensemble=ensemble)
    what = f" ({part.replace('-', ' ')})" if part else ""
    flag = f" --{part.replace('-', ' ')}" if part else ""
    calls = []
    for held_trial, held_ensemble in stored_kinds(study):
        option = f", trial={held_trial}" if held_trial is not None else ""
        option += f", ensemble={held_ensemble}" if held_ensemble > 1 else ""
        calls.append(f"load_predictor({name!r}{option})")
    exists = f" (it has: {', '.join(calls)})" if calls else ""
    return f"study {name!r} has no holdout model{what} yet{exists}; run: python -m search holdout {name}{flag}"


def _array_predictor(model: Any, task: Task, class_names: list[str]) -> Predictor:
    """A predictor of a model that reads ready arrays (no preprocessing)."""
    return Predictor(model=model, preprocessor=None, task=task, class_names=class_names, schema={})


def _ready(rows: Any) -> Any:
    """One input's rows as the model takes them: a sparse matrix as CSR, numbers as ``float32``, text as it is."""
    import scipy.sparse

    if scipy.sparse.issparse(rows):  # a bag of words, as the study's loader gave it
        return rows.tocsr().astype(np.float32)
    values = np.asarray(rows)
    return as_features(values) if np.issubdtype(values.dtype, np.number) else values
