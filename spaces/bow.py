"""A bag-of-words MLP whose input representation is searched too.

Besides the :mod:`spaces.mlp` variables (depth, units and taper, input dropout,
dropout, L1, L2, batch size, learning rate), a trial picks the representation:
vocabulary size (the most frequent ``vocab_size`` n-grams of the training
reviews, an integer drawn log-uniformly, so that the sampler can learn a trend
across sizes), n-grams (``1``: words; ``2``: words and bigrams) and weighting
(``multi-hot``, ``count`` or ``tf-idf``; ``nb-multi-hot`` and ``nb-tf-idf`` scale
each n-gram by its Naive Bayes log-count ratio on the training reviews, as NBSVM
does). Inputs stay sparse: the first layer is
a ``Dense`` layer on a sparse input, so its cost follows the words a review
holds, not the vocabulary size, and input dropout drops the words present.

The data come from the ``imdb-ngrams`` loader; :func:`features` turns its rows
into the model inputs of one configuration (no re-vectorizing: a column slice
and a re-weighting of cached counts).

Examples:
    >>> import optuna
    >>> params = {"vocab_size": 20000, "ngrams": 2, "mode": "tf-idf", "depth": 1, "units": 32,
    ...           "input_dropout": 0.3, "dropout": 0.2, "l1_on": False, "l2_on": False,
    ...           "batch_size": 256, "learning_rate": 1e-3}
    >>> config = suggest(optuna.trial.FixedTrial(params))
    >>> config["vocab_size"], config["ngrams"], config["mode"], config["layer_units"]
    (20000, 2, 'tf-idf', [32])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search.data import NgramRows, Task
from search.errors import InputError
from search.models import Limit, check_bounds
from spaces import mlp

if TYPE_CHECKING:
    import keras
    import optuna
    import scipy.sparse as sp

__all__ = ["DEFAULT_BOUNDS", "LIMITS", "PORTFOLIO", "build", "check", "check_data", "features", "suggest"]

DEFAULT_BOUNDS: dict[str, Any] = {
    **mlp.DEFAULT_BOUNDS,
    "vocab_size": [5000, 50000],
    "ngrams": [1, 2],
    "mode": ["multi-hot", "count", "tf-idf"],
}
LIMITS: dict[str, Limit] = {**mlp.LIMITS, "vocab_size": Limit(2, integer=True), "ngrams": Limit(1, integer=True)}
# No portfolio: the one spaces.mlp carries (chosen on small tables) was slower on imdb-bow's reviews
# (docs/benchmarks.md: "Portfolio start"), and no text data set of another kind is at hand to choose one from.
PORTFOLIO: list[dict[str, Any]] = []
_CHOICES = ("ngrams", "mode")
_REPRESENTATION = ("vocab_size", *_CHOICES)


def suggest(trial: optuna.trial.BaseTrial, **bounds: Any) -> dict[str, Any]:
    """Sample a representation and an MLP.

    Args:
        trial: Any Optuna trial, ``optuna.trial.FixedTrial`` included.
        **bounds: Overrides of :data:`DEFAULT_BOUNDS`: ``vocab_size = [low, high]``
            (``[k, k]`` fixes it); lists of choices for ``ngrams`` and ``mode``;
            the :mod:`spaces.mlp` bounds; all within :data:`LIMITS`.

    Raises:
        search.InputError: Invalid bounds.
    """
    check(**{k: v for k, v in bounds.items() if k in _REPRESENTATION})
    choices = ("batch_size", "activation", *_CHOICES)
    log = ("vocab_size", "l1", "l2", "learning_rate")
    b = check_bounds(DEFAULT_BOUNDS, bounds, choices=choices, log=log, limits=LIMITS)
    representation = {"vocab_size": trial.suggest_int("vocab_size", *b.int_range("vocab_size"), log=True)}
    representation |= {name: trial.suggest_categorical(name, b.choices(name)) for name in _CHOICES}
    model = mlp.suggest(trial, **{k: v for k, v in bounds.items() if k not in _REPRESENTATION})
    return representation | model


def check(**bounds: Any) -> None:
    """Refuse representation choices the data cannot give, before the study is written."""
    sizes = bounds.get("vocab_size", DEFAULT_BOUNDS["vocab_size"])
    whole = isinstance(sizes, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
    if not whole or len(sizes) != 2 or not 2 <= sizes[0] <= sizes[1]:
        raise InputError(f"space bound 'vocab_size' must be [low, high], integers 2 <= low <= high, got {sizes!r}")
    for mode in bounds.get("mode", DEFAULT_BOUNDS["mode"]):
        NgramRows.check_mode(mode)


def check_data(x_train: NgramRows, **bounds: Any) -> None:
    """Refuse bounds the prepared n-gram counts cannot serve, before the study is written.

    Examples:
        >>> import numpy as np, scipy.sparse as sp
        >>> check_data(NgramRows({1: sp.csr_matrix(np.eye(3, dtype=np.float32))}), vocab_size=[2, 3], ngrams=[1])
    """
    largest = bounds.get("vocab_size", DEFAULT_BOUNDS["vocab_size"])[1]
    for n in bounds.get("ngrams", DEFAULT_BOUNDS["ngrams"]):
        x_train.check(ngrams=n, vocab_size=largest, what="vocab_size bound")


def features(
    config: dict[str, Any], fit_rows: NgramRows, *other_rows: NgramRows, fit_labels: Any = None
) -> tuple[sp.csr_matrix, ...]:
    """Model inputs for ``config``: see :meth:`search.data.NgramRows.represent`.

    TF-IDF and the Naive Bayes ratios are learnt on ``fit_rows`` (and ``fit_labels``) only.
    """
    return fit_rows.represent(config, *other_rows, fit_labels=fit_labels)


def build(config: dict[str, Any], *, input_shape: tuple[int, ...], task: Task, sparse: bool = True) -> keras.Model:
    """Build and compile the MLP on a sparse input of ``input_shape`` (``sparse=False``: a dense one).

    Examples:
        >>> from search import Task
        >>> model = build({"layer_units": [16], "input_dropout": 0.2, "dropout": 0.0, "l1": 0.0, "l2": 0.0,
        ...                "activation": "relu", "batch_size": 32, "learning_rate": 1e-3},
        ...               input_shape=(5000,), task=Task("binary"))
        >>> model.inputs[0].sparse, model.output.shape
        (True, (None, 1))
    """
    import keras

    return mlp.model_on(keras.Input(shape=input_shape, sparse=sparse), config, task=task, name="bow_mlp")
