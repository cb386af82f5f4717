"""Raw text into a pretrained TF-Hub sentence embedding, then a small dense head.

Variables: ``trainable`` (fine-tune the embedding matrix or keep it frozen), the
embedding ``handle`` (a categorical variable when the study lists several), and
the head: depth (0 is a linear model on the embedding), units of the first
hidden layer (halved for the next), dropout, L2 (may be off), batch size and
learning rate. Models take a 1-D string input and run on the TensorFlow backend.

Examples:
    >>> import optuna
    >>> config = suggest(optuna.trial.FixedTrial({
    ...     "trainable": True, "depth": 2, "units": 64, "dropout": 0.2, "l2_on": False,
    ...     "batch_size": 128, "learning_rate": 1e-3}))
    >>> config["layer_units"], config["handle"]
    ([64, 32], 'search:imdb-unsup-50dim')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search import models
from search.data import Task
from search.errors import InputError
from search.models import DEFAULT_TEXT_HANDLE, Limit, check_bounds, compile_for_task, load_text_module, output_layer

if TYPE_CHECKING:
    import keras
    import optuna

__all__ = ["DEFAULT_BOUNDS", "LIMITS", "PORTFOLIO", "build", "check", "group", "suggest"]

DEFAULT_BOUNDS: dict[str, Any] = {
    "handle": [DEFAULT_TEXT_HANDLE],
    "trainable": [False, True],
    "depth": [0, 2],
    "units": [8, 128],
    "dropout": [0.0, 0.5],
    "l2": [1e-6, 1e-2],
    "batch_size": [32, 64, 128, 256],
    "learning_rate": [1e-4, 3e-2],
}
# What a study's bounds may hold at all: out of these, every trial would fail.
LIMITS: dict[str, Limit] = {
    "depth": Limit(0, integer=True),  # 0: a linear model on the embedding
    "units": Limit(1, integer=True),
    "dropout": Limit(0, 1, high_open=True),
    "l2": Limit(0),
    "batch_size": Limit(1, integer=True),
    "learning_rate": Limit(0, low_open=True),
}
# No portfolio: the one spaces.mlp carries (chosen on small tables) was slower on imdb-bow's reviews
# (docs/benchmarks.md: "Portfolio start"), and no text data set of another kind is at hand to choose one from.
PORTFOLIO: list[dict[str, Any]] = []
_CHOICES = ("handle", "trainable", "batch_size")
_MIN_UNITS = 2


def _bounds(bounds: dict[str, Any]) -> Any:
    b = check_bounds(DEFAULT_BOUNDS, bounds, choices=_CHOICES, log=("units", "l2", "learning_rate"), limits=LIMITS)
    if not all(isinstance(h, str) and h for h in b.choices("handle")):
        raise InputError(f"space bound 'handle' must list handle strings, got {b.values['handle']!r}")
    if not all(isinstance(t, bool) for t in b.choices("trainable")):
        raise InputError(f"space bound 'trainable' must list booleans, got {b.values['trainable']!r}")
    return b


def suggest(trial: optuna.trial.BaseTrial, **bounds: Any) -> dict[str, Any]:
    """Sample one configuration.

    Args:
        trial: Any Optuna trial, ``optuna.trial.FixedTrial`` included.
        **bounds: Overrides of :data:`DEFAULT_BOUNDS`: lists of choices for
            ``handle``, ``trainable`` and ``batch_size`` (a variable only when
            the list has more than one entry), ``[low, high]`` for the rest; all
            within :data:`LIMITS`.

    Returns:
        A JSON-able dict that :func:`build` and the trainer understand.

    Raises:
        search.InputError: Invalid bounds.
    """
    b = _bounds(bounds)
    handles, trainables = b.choices("handle"), b.choices("trainable")
    handle = trial.suggest_categorical("handle", handles) if len(handles) > 1 else handles[0]
    trainable = trial.suggest_categorical("trainable", trainables) if len(trainables) > 1 else trainables[0]
    depth = trial.suggest_int("depth", *b.int_range("depth"))
    units = trial.suggest_int("units", *b.int_range("units"), log=True) if depth > 0 else 0
    dropout = trial.suggest_float("dropout", *b.range("dropout"))
    l2 = (
        trial.suggest_float("l2", *b.range("l2"), log=True)
        if trial.suggest_categorical("l2_on", [False, True])
        else 0.0
    )
    return {
        "handle": handle,
        "trainable": bool(trainable),
        "layer_units": [max(_MIN_UNITS, units // 2**i) for i in range(depth)],
        "dropout": dropout,
        "l2": l2,
        "batch_size": trial.suggest_categorical("batch_size", b.choices("batch_size")),
        "learning_rate": trial.suggest_float("learning_rate", *b.range("learning_rate"), log=True),
    }


def check(**bounds: Any) -> None:
    """Load every listed handle once before a study starts (building the offline module if needed).

    Raises:
        search.InputError: A handle that cannot be loaded, or ``trainable`` may be
            true for a module that can only be used frozen.

    Examples:
        >>> import tempfile
        >>> import numpy as np
        >>> from search.models import export_text_embedding
        >>> path = export_text_embedding(["good", "bad"], np.eye(2), f"{tempfile.mkdtemp()}/m", num_oov_buckets=1)
        >>> check(handle=[str(path)])  # loads: nothing to report
        >>> check(handle=["/no/such/module"])
        Traceback (most recent call last):
        ...
        search.errors.InputError: embedding handle '/no/such/module': no such folder
    """
    b = _bounds(bounds)
    for handle in b.choices("handle"):
        if not load_text_module(handle).native and True in b.choices("trainable"):
            raise InputError(f"embedding handle {handle!r} can only be used frozen: set space.trainable = [false]")


def group(config: dict[str, Any]) -> str:
    """Summaries show the best trial with frozen and with fine-tuned embeddings apart.

    Examples:
        >>> group({"trainable": True}), group({"trainable": False})
        ('fine-tuned embeddings', 'frozen embeddings')
    """
    return "fine-tuned embeddings" if config["trainable"] else "frozen embeddings"


def build(config: dict[str, Any], *, input_shape: tuple[int, ...] = (), task: Task) -> keras.Model:
    """Build and compile the text model that ``config`` describes.

    Args:
        config: A dict from :func:`suggest`.
        input_shape: ``()``: one string per example.
        task: A :class:`search.Task`.

    Examples:
        A tiny module stands in for the default ``search:imdb-unsup-50dim`` (which needs the IMDB data):

        >>> import tempfile
        >>> import numpy as np
        >>> from search import Task
        >>> from search.models import export_text_embedding
        >>> path = export_text_embedding(["good", "bad"], np.eye(2), f"{tempfile.mkdtemp()}/m", num_oov_buckets=1)
        >>> handle = str(path)
        >>> model = build({"handle": handle, "trainable": False, "layer_units": [16],
        ...                "dropout": 0.2, "l2": 0.0, "batch_size": 32, "learning_rate": 1e-3},
        ...               task=Task("binary"))
        >>> model.output_shape, model.get_layer("embedding").trainable
        ((None, 1), False)
    """
    import keras

    if tuple(input_shape) != ():
        raise InputError(f"the text space takes one string per example, got input shape {tuple(input_shape)}")
    regularizer = keras.regularizers.L2(config["l2"]) if config["l2"] else None
    inputs = keras.Input(shape=(), dtype="string", name="text")
    x = models.HubTextEmbedding(config["handle"], trainable=config["trainable"], name="embedding")(inputs)
    for units in config["layer_units"]:
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=regularizer)(x)
        if config["dropout"] > 0:
            x = keras.layers.Dropout(config["dropout"])(x)
    if not config["layer_units"] and config["dropout"] > 0:
        x = keras.layers.Dropout(config["dropout"])(x)
    model = keras.Model(inputs, output_layer(task)(x), name="text")
    return compile_for_task(model, config, task)
