"""A multilayer perceptron over a fixed-length feature vector.

The "universal workflow" variables: depth, units of the first layer and a taper
for the next ones, dropout on the inputs and after each hidden layer, L1 and L2
strength (each may be off), batch size and learning rate. The number of epochs
comes from early stopping.

Examples:
    >>> import optuna
    >>> config = suggest(optuna.trial.FixedTrial({
    ...     "depth": 2, "units": 64, "taper": 0.5, "input_dropout": 0.2, "dropout": 0.3, "l1_on": False,
    ...     "l2_on": True, "l2": 1e-4, "batch_size": 512, "learning_rate": 1e-3}))
    >>> config["layer_units"]
    [64, 32]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from search import models
from search.data import Task
from search.models import Limit, check_bounds, compile_for_task, output_layer

if TYPE_CHECKING:
    import keras
    import optuna

__all__ = ["DEFAULT_BOUNDS", "LIMITS", "PORTFOLIO", "build", "suggest"]

DEFAULT_BOUNDS: dict[str, Any] = {
    "depth": [1, 3],
    "units": [8, 256],
    "taper": [0.25, 1.0],
    "input_dropout": [0.0, 0.6],
    "dropout": [0.0, 0.7],
    "l1": [1e-7, 1e-3],
    "l2": [1e-6, 1e-2],
    "batch_size": [32, 64, 128, 256, 512],
    "learning_rate": [1e-4, 1e-2],
    "activation": ["relu"],
}
_RATE = Limit(0, 1, high_open=True)  # a dropout rate of 1 drops everything
# What a study's bounds may hold at all: out of these, every trial would fail.
LIMITS: dict[str, Limit] = {
    "depth": Limit(0, integer=True),  # 0: no hidden layer, a linear model
    "units": Limit(1, integer=True),
    "taper": Limit(0, 1, low_open=True),
    "input_dropout": _RATE,
    "dropout": _RATE,
    "l1": Limit(0),
    "l2": Limit(0),
    "batch_size": Limit(1, integer=True),
    "learning_rate": Limit(0, low_open=True),
}
_MIN_UNITS = 2
# A new study's first trials (each moved into its bounds): the greedy portfolio that
# benchmarks/portfolio.py chose, 2026-12-08, from the best configurations of five data sets no
# shipped study uses (breast-cancer, wine, digits, diabetes, Friedman #1), each trained on all five.
# The comment after each set names the data set it came from.
# fmt: off
PORTFOLIO: list[dict[str, Any]] = [
    {"depth": 2, "units": 175, "taper": 0.938, "input_dropout": 0.154, "dropout": 0.0278, "l1_on": False,
     "l2_on": True, "l2": 0.000309, "activation": "relu", "batch_size": 32, "learning_rate": 0.00139},  # digits
    {"depth": 2, "units": 71, "taper": 0.383, "input_dropout": 0.0261, "dropout": 0.0466, "l1_on": True, "l1": 1.51e-06,
     "l2_on": True, "l2": 1.19e-06, "activation": "elu", "batch_size": 64, "learning_rate": 0.00184},  # diabetes
    {"depth": 3, "units": 225, "taper": 0.814, "input_dropout": 0.0613, "dropout": 0.0784, "l1_on": True,
     "l1": 2.67e-07, "l2_on": False, "activation": "tanh", "batch_size": 32, "learning_rate": 0.000639},  # friedman1
    {"depth": 3, "units": 170, "taper": 0.813, "input_dropout": 0.254, "dropout": 0.306, "l1_on": True, "l1": 3.13e-05,
     "l2_on": False, "activation": "tanh", "batch_size": 128, "learning_rate": 0.00964},  # wine
]
# fmt: on


def suggest(trial: optuna.trial.BaseTrial, **bounds: Any) -> dict[str, Any]:
    """Sample one configuration.

    Args:
        trial: Any Optuna trial, ``optuna.trial.FixedTrial`` included.
        **bounds: Overrides of :data:`DEFAULT_BOUNDS` (``[low, high]`` ranges;
            lists of choices for ``batch_size`` and ``activation``), within
            :data:`LIMITS` (e.g. dropout rates in ``[0, 1)``).

    Returns:
        A JSON-able dict that :func:`build` and the trainer understand.

    Raises:
        search.InputError: Invalid bounds.
    """
    b = check_bounds(
        DEFAULT_BOUNDS, bounds, choices=("batch_size", "activation"), log=("l1", "l2", "learning_rate"), limits=LIMITS
    )
    depth = trial.suggest_int("depth", *b.int_range("depth"))
    units = trial.suggest_int("units", *b.int_range("units"), log=True) if depth > 0 else 0
    taper = trial.suggest_float("taper", *b.range("taper")) if depth > 1 else 1.0
    input_dropout = trial.suggest_float("input_dropout", *b.range("input_dropout"))
    dropout = trial.suggest_float("dropout", *b.range("dropout")) if depth > 0 else 0.0
    l1 = (
        trial.suggest_float("l1", *b.range("l1"), log=True)
        if trial.suggest_categorical("l1_on", [False, True])
        else 0.0
    )
    l2 = (
        trial.suggest_float("l2", *b.range("l2"), log=True)
        if trial.suggest_categorical("l2_on", [False, True])
        else 0.0
    )
    activations = b.choices("activation")
    activation = trial.suggest_categorical("activation", activations) if len(activations) > 1 else activations[0]
    return {
        "layer_units": [max(_MIN_UNITS, round(units * taper**i)) for i in range(depth)],
        "input_dropout": input_dropout,
        "dropout": dropout,
        "l1": l1,
        "l2": l2,
        "activation": activation,
        "batch_size": trial.suggest_categorical("batch_size", b.choices("batch_size")),
        "learning_rate": trial.suggest_float("learning_rate", *b.range("learning_rate"), log=True),
    }


def build(config: dict[str, Any], *, input_shape: tuple[int, ...], task: Task, sparse: bool = False) -> keras.Model:
    """Build and compile the MLP that ``config`` describes.

    Args:
        config: A dict from :func:`suggest`.
        input_shape: Shape of one example, e.g. ``(10000,)``.
        task: A :class:`search.Task`: output units, activation, loss and metrics.
        sparse: The inputs are sparse (a bag of words as a SciPy sparse matrix): the
            first layer then multiplies the stored values only, and input dropout drops
            those (the words present), not the whole width.

    Examples:
        >>> from search import Task
        >>> model = build({"layer_units": [16], "input_dropout": 0.0, "dropout": 0.0, "l1": 0.0, "l2": 0.0,
        ...                "activation": "relu", "batch_size": 32, "learning_rate": 1e-3},
        ...               input_shape=(100,), task=Task("binary"))
        >>> model.count_params(), model.output.shape
        (1633, (None, 1))
    """
    import keras

    return model_on(keras.Input(shape=input_shape, sparse=sparse), config, task=task, name="mlp")


def model_on(inputs: keras.KerasTensor, config: dict[str, Any], *, task: Task, name: str) -> keras.Model:
    """The compiled MLP of ``config`` on ``inputs`` (dense or sparse): input dropout, hidden layers, output."""
    import keras

    # Rates and strengths are constants of the compiled program: as values of the model
    # (search.models.layers, traced=True) they compiled slower on imdb-bow (docs/benchmarks.md).
    x = inputs
    if config.get("input_dropout", 0.0) > 0:
        # Dropping input features (words, for a bag of words) regularizes wide sparse inputs.
        x = models.InputDropout(config["input_dropout"])(x)
    # A linear model (no hidden layer) puts its L1/L2 on the output layer, which then holds all the weights.
    output = output_layer(task, regularizer=None if config["layer_units"] else _regularizer(config))
    model = keras.Model(inputs, output(hidden_layers(x, config)), name=name)
    return compile_for_task(model, config, task)


def _regularizer(config: dict[str, Any]) -> keras.regularizers.Regularizer | None:
    import keras

    return keras.regularizers.L1L2(l1=config["l1"], l2=config["l2"]) if config["l1"] or config["l2"] else None


def hidden_layers(x: keras.KerasTensor, config: dict[str, Any]) -> keras.KerasTensor:
    """The hidden ``Dense`` layers of ``config`` (units, activation, L1/L2, dropout) applied to ``x``."""
    import keras

    regularizer = _regularizer(config)
    for units in config["layer_units"]:
        x = keras.layers.Dense(
            units,
            activation=config["activation"],
            kernel_regularizer=regularizer,
            kernel_initializer=models.GlorotUniform(),
        )(x)
        if config["dropout"] > 0:
            x = keras.layers.Dropout(config["dropout"])(x)
    return x
