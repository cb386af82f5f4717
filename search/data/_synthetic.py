"""A synthetic classification data set: runs anywhere, in seconds, with no files."""

from __future__ import annotations

from typing import Any

import numpy as np

from search.data._records import Dataset, check_settings
from search.data._task import Task

__all__ = ["load_synthetic"]

_KNOWN = {"kind", "validation_size", "n_train", "n_test", "n_features", "n_informative", "n_classes", "class_sep"}


def load_synthetic(settings: dict[str, Any], seed: int) -> Dataset:
    """Gaussian clusters from ``sklearn.datasets.make_classification``.

    Settings (the study's ``[data]`` table): ``n_train`` (default 800), ``n_test``
    (400), ``n_features`` (20), ``n_informative`` (5), ``n_classes`` (2) and
    ``class_sep`` (1.0). The data depend on these settings only, not on ``seed``,
    so that studies with other seeds see the same problem.

    Examples:
        >>> load_synthetic({"kind": "synthetic", "n_train": 100}, seed=0).x_train.shape
        (100, 20)
    """
    from sklearn.datasets import make_classification

    check_settings(settings, _KNOWN, "synthetic")
    n_train, n_test = int(settings.get("n_train", 800)), int(settings.get("n_test", 400))
    n_classes = int(settings.get("n_classes", 2))
    x, y = make_classification(
        n_samples=n_train + n_test,
        n_features=int(settings.get("n_features", 20)),
        n_informative=int(settings.get("n_informative", 5)),
        n_classes=n_classes,
        class_sep=float(settings.get("class_sep", 1.0)),
        random_state=0,
    )
    x, y = x.astype(np.float32), y.astype(np.float32)
    return Dataset(
        x_train=x[:n_train],
        y_train=y[:n_train],
        x_test=x[n_train:],
        y_test=y[n_train:],
        task=Task("binary") if n_classes == 2 else Task("multiclass", n_classes),
        train_ids=[f"train/{i}" for i in range(n_train)],
        test_ids=[f"test/{i}" for i in range(n_test)],
        class_names=[f"class {i}" for i in range(n_classes)],
    )
