"""The holdout model with its fitted preprocessing: save, reload, predict from raw rows."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search._errors import SearchError
from search._task import Task

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

    Example:
        >>> predictor = load_predictor("auto-mpg")  # doctest: +SKIP
        >>> predictor.predict({"cylinders": 4, "displacement": 97, "horsepower": "?", "weight": 2130,
        ...                    "acceleration": 14.5, "year": 70, "origin": 3})  # doctest: +SKIP
        array([27.1], dtype=float32)
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
            SearchError: A needed column is missing, or the CSV cannot be read.
        """
        import pandas as pd

        from search._tabular import read_csv

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
            raise SearchError(f"missing column(s) {', '.join(missing)} (the model reads {', '.join(self.columns)})")
        return frame[self.columns]

    def transform(self, rows: Any) -> np.ndarray:
        """Model inputs (``float32``) of raw rows."""
        from search._datasets import as_features

        return as_features(self.preprocessor.transform(self.frame(rows)))

    def predict_scores(self, rows: Any) -> np.ndarray:
        """The model's raw outputs: probabilities (classification) or values (regression)."""
        return np.asarray(self.model.predict(self.transform(rows), batch_size=1024, verbose=0))

    def predict(self, rows: Any) -> np.ndarray:
        """Predicted values (regression) or class names (classification), one per row.

        Example:
            >>> load_predictor("iris").predict("flowers.csv")  # doctest: +SKIP
            array(['setosa', 'virginica'], dtype=object)
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

        Example:
            >>> predictor.save("models", "auto-mpg")  # doctest: +SKIP
            (PosixPath('models/auto-mpg.keras'), PosixPath('models/auto-mpg.preprocessing.joblib'))
        """
        import joblib
        import sklearn

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        model_path = folder / f"{name}.keras"
        preprocessing_path = folder / f"{name}{PREPROCESSING_SUFFIX}"
        self.model.save(model_path)
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
    def load(cls, model_path: str | Path, preprocessing_path: str | Path) -> Predictor:
        """Read a model and its preprocessing written by :meth:`save`.

        The preprocessing file is a pickle: load only files this tool wrote.

        Raises:
            SearchError: A file is missing or not of this format.

        Example:
            >>> Predictor.load("models/auto-mpg.keras", "models/auto-mpg.preprocessing.joblib")  # doctest: +SKIP
        """
        import joblib

        from search._layers import load_model  # registers the project's layers too

        for path in (model_path, preprocessing_path):
            if not Path(path).is_file():
                raise SearchError(f"no such file: {path}")
        bundle = joblib.load(preprocessing_path)
        if not isinstance(bundle, dict) or bundle.get("format") != _FORMAT:
            raise SearchError(f"{preprocessing_path} is not a preprocessing file of this version")
        return cls(
            model=load_model(model_path),
            preprocessor=bundle["preprocessor"],
            task=Task(**bundle["task"]),
            class_names=list(bundle["class_names"]),
            schema=dict(bundle["schema"]),
        )


def load_predictor(name: str, *, storage: str | None = None) -> Predictor:
    """The holdout model of a study with its fitted preprocessing, ready for raw rows.

    Reads the files the ``holdout`` step saved; when they were moved, the copies
    in the study's artifact store are used.

    Args:
        name: Study name.
        storage: Storage URL; default :func:`search.default_storage`.

    Raises:
        SearchError: No such study, no holdout yet, or a study whose data takes no raw rows.

    Example:
        >>> from search import load_predictor
        >>> predictor = load_predictor("iris", storage="sqlite:///studies.db")  # doctest: +SKIP
        >>> predictor.predict([{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5,
        ...                     "petal length (cm)": 1.4, "petal width (cm)": 0.2}])  # doctest: +SKIP
        array(['setosa'], dtype=object)
    """
    from search._study import load_study

    study, url = load_study(name, storage=storage)
    holdout = study.user_attrs.get("holdout")
    if not holdout:
        raise SearchError(f"study {name!r} has no holdout model yet; run: python -m search holdout {name}")
    if not holdout.get("preprocessing_path"):
        raise SearchError(f"study {name!r} has no saved preprocessing (its data is not read from raw rows)")
    with tempfile.TemporaryDirectory() as tmp:
        model_path = _local(holdout["model_path"], holdout.get("artifact_id"), url, Path(tmp) / "model.keras")
        preprocessing_path = _local(
            holdout["preprocessing_path"],
            holdout.get("preprocessing_artifact_id"),
            url,
            Path(tmp) / f"model{PREPROCESSING_SUFFIX}",
        )
        return Predictor.load(model_path, preprocessing_path)


def _local(path: str, artifact_id: str | None, url: str, fallback: Path) -> Path:
    """``path`` if it exists, else a download of the artifact into ``fallback``."""
    if Path(path).is_file() or not artifact_id:
        return Path(path)
    from optuna.artifacts import download_artifact

    from search._storage import artifact_store

    try:
        download_artifact(artifact_store=artifact_store(url), artifact_id=artifact_id, file_path=str(fallback))
    except Exception:
        return Path(path)  # reported as a missing file
    return fallback
