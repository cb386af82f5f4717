"""Study definitions: TOML files in the ``studies`` package, and :class:`StudyConfig`, their one validated form.

A definition (with its ``--set`` overrides merged in) is validated against a
declared schema (pydantic models) before anything else happens: unknown keys
(with the nearest valid name), types as written (no ``"3"`` for ``3``), ranges
(``trials`` 1 to 1,000,000, ``max_epochs`` 1 to 10,000, ``patience`` 0 to
10,000, ``seed`` 0 to 2**32 - 1, the numeric options of samplers and pruners),
finite numbers anywhere, and the key each table needs (``[data]`` a ``kind``,
``[space]`` a ``module``, ``[sampler]`` and ``[pruner]`` a ``name``).
``patience`` is not bounded by ``max_epochs``: a patience at or above it only
means that early stopping never ends a trial, and overriding ``max_epochs``
alone must keep a definition valid. Every problem is one
:class:`search.InputError` line naming the source and the field as a dotted path.

The same :class:`StudyConfig` model validates a definition where it is stored:
the process that creates a study stores ``StudyConfig.stored()``, and every
process that joins it reads it back with :meth:`StudyConfig.from_stored`, so a
value edited in the database is refused by a worker with the same message the
creating process gives.

Examples:
    >>> load_study_config("iris", space={"dropout": [0.0, float("inf")]})
    Traceback (most recent call last):
    ...
    search.errors.InputError: studies/iris.toml: 'space.dropout.1' must be a finite number, got inf
"""

from __future__ import annotations

import difflib
import importlib.resources
import math
import tomllib
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails

from search.errors import InputError

__all__ = ["PROPERTIES", "StudyConfig", "available_studies", "check_name", "load_study_config"]

_Backend = Literal["", "tensorflow", "jax"]  # "": whatever Keras is configured with
BACKENDS: tuple[str, ...] = get_args(_Backend)[1:]

#: Measured properties of a trained model that an objective or a constraint may name (all better low).
PROPERTIES: dict[str, str] = {
    "params": "parameter count",
    "model_mb": "size of the saved .keras file, in MB",
    "latency_ms": "inference latency of one example (batch 1), in ms, median of repeats",
    "latency_ms_batch": "inference latency per example in a batch of 1,024 (or the validation rows), in ms",
}

MAX_TRIALS = 1_000_000  # a budget beyond any study; a typo (an extra zero or two) is refused
MAX_EPOCHS = 10_000
MAX_SEED = 2**32 - 1  # NumPy's seeds (the data split, the samplers) stop here
MAX_FOLDS = 20  # each trial trains every fold: more is a typo, or leave-one-out, which a search cannot afford
MAX_NAME_LENGTH = 128
SIGNATURE = "signature"  # a pickled file's signature, kept beside its digest (see search.engine._trust); not a setting


def limit_name(key: str) -> str:
    """What a constraint key limits: ``max_params`` -> ``params``.

    Examples:
        >>> limit_name("min_val_accuracy")
        'val_accuracy'
    """
    return key.removeprefix("max_").removeprefix("min_")


def check_name(name: Any, *, what: str = "study name") -> str:
    """A study name as a key: 1 to 128 printable characters, not blank. It never becomes a path as it is.

    Raises:
        search.InputError: Not such a name.

    Examples:
        >>> check_name("imdb-bow/../../x")  # a key like any other; files use name_key(name)
        'imdb-bow/../../x'
        >>> check_name("bad\\nname")
        Traceback (most recent call last):
        ...
        search.errors.InputError: study name 'bad\\nname' holds a control character
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise InputError(f"{what} {name!r} holds a control character")
    return name


class _Schema(BaseModel):
    """A table of the definition: typed as written (no ``"3"`` for ``3``), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Options(BaseModel):
    """A table of options of its own (a loader's, a sampler's...): one key required, the others passed on."""

    model_config = ConfigDict(extra="allow", strict=True)


_Text = Annotated[str, Field(min_length=1)]
_Trials = Annotated[int, Field(ge=1, le=MAX_TRIALS)]
_Epochs = Annotated[int, Field(ge=1, le=MAX_EPOCHS)]
# Not bounded by max_epochs: overriding max_epochs alone (--set max_epochs=2) must keep a definition valid;
# a patience at or above max_epochs only means that early stopping never ends a trial.
_Patience = Annotated[int, Field(ge=0, le=MAX_EPOCHS)]
_Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
_Folds = Annotated[int, Field(ge=1, le=MAX_FOLDS)]
_Count = Annotated[int, Field(ge=0)]
_Positive = Annotated[int, Field(ge=1)]
_Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


def _resource(value: Any) -> Any:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"must be a whole number of at least 1 or 'auto', got {value!r}")


_Resource = Annotated[
    Any,
    AfterValidator(_resource),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "const": "auto"}]}),
]


class _Data(_Options):
    kind: _Text


class _Space(_Options):
    module: _Text


class _Sampler(_Options):
    """A ``[sampler]`` table: ``name`` and options; the numeric options Optuna's samplers share have their ranges."""

    name: _Text
    n_startup_trials: _Count | None = None
    n_ei_candidates: _Positive | None = None
    prior_weight: Annotated[float, Field(gt=0.0)] | None = None
    population_size: Annotated[int, Field(ge=2)] | None = None
    mutation_prob: _Fraction | None = None
    crossover_prob: _Fraction | None = None
    swapping_prob: _Fraction | None = None
    sigma0: Annotated[float, Field(gt=0.0)] | None = None
    popsize: _Positive | None = None


class _Pruner(_Options):
    """A ``[pruner]`` table: ``name`` and options; the numeric options Optuna's pruners share have their ranges."""

    name: _Text
    n_startup_trials: _Count | None = None
    n_warmup_steps: _Count | None = None
    interval_steps: _Positive | None = None
    n_min_trials: _Positive | None = None
    percentile: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    min_resource: _Resource | None = None
    max_resource: _Resource | None = None
    reduction_factor: Annotated[int, Field(ge=2)] | None = None
    min_early_stopping_rate: _Count | None = None
    bootstrap_count: _Count | None = None
    p_threshold: _Fraction | None = None
    n_startup_steps: _Count | None = None
    patience: _Count | None = None
    min_delta: Annotated[float, Field(ge=0.0)] | None = None


class _Callbacks(_Schema):
    """A ``tune`` study's own Keras callbacks: their pickle in the study's artifacts, its digest and signature."""

    file: _Text
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    signature: str = ""


class _Objective(_Schema):
    name: _Text
    direction: Literal["maximize", "minimize"] | None = None


def _check_objectives(objectives: list[_Objective]) -> list[_Objective]:
    for objective in objectives:
        if objective.name in PROPERTIES:
            if objective.direction == "maximize":
                raise ValueError(f"objective {objective.name!r} is a size or a latency: it can only be minimized")
            objective.direction = "minimize"
        elif not objective.name.startswith("val_"):
            known = ", ".join(PROPERTIES)
            raise ValueError(
                f"objective {objective.name!r} is neither a validation metric (val_...) nor one of {known}"
            )
        elif objective.direction is None:
            raise ValueError(f"objective {objective.name!r} needs a direction ('maximize' or 'minimize')")
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ValueError(f"objectives name the same thing twice: {names}")
    return objectives


def _check_constraints(constraints: dict[str, float]) -> dict[str, float]:
    for key, limit in constraints.items():
        name = limit_name(key)
        if key == name:
            raise ValueError(f"constraint {key!r} must be max_<name> or min_<name>")
        if name in PROPERTIES:
            if key.startswith("min_"):
                raise ValueError(f"constraint {key!r}: {name} can only have a maximum (max_{name})")
            if limit <= 0:
                raise ValueError(f"constraint {key!r} must be above 0 ({name} is never negative), got {limit!r}")
        elif not name.startswith("val_"):
            known = ", ".join(PROPERTIES)
            raise ValueError(f"constraint {key!r} names neither a validation metric (val_...) nor one of {known}")
    return constraints


def _table(schema: type[BaseModel]) -> Any:
    """A table validated by ``schema`` and kept as the plain ``dict`` it was (only the keys it holds)."""
    return AfterValidator(lambda table: schema.model_validate(table).model_dump(exclude_unset=True))


def _objectives(objectives: list[dict[str, Any]]) -> list[dict[str, str]]:
    checked = _check_objectives([_Objective.model_validate(o) for o in objectives])
    return [{"name": o.name, "direction": str(o.direction)} for o in checked]


class StudyConfig(BaseModel):
    """Everything that defines a study: read from ``studies/<name>.toml``, stored with the study, read back.

    Frozen and validated wherever it is made: from a file (:func:`load_study_config`),
    by :func:`search.tune`, or from a storage (:meth:`from_stored`), with one set of limits.

    Attributes:
        name: Study name in the storage.
        metric: Validation metric that early stopping, pruning and the objective use.
        direction: ``"maximize"`` or ``"minimize"``.
        seed: Seed of the sampler, the data split and each trial's initialisation.
        data: Data settings; ``kind`` selects the loader.
        space: ``module`` (an importable module with ``suggest`` and ``build``) and
            keyword bounds passed to its ``suggest``.
        sampler: ``name`` of an ``optuna.samplers`` class and its keyword options.
        pruner: ``name`` of an ``optuna.pruners`` class and its keyword options.
        trials: Total number of finished (complete or pruned) trials of the study.
        max_epochs: Upper bound on epochs; early stopping decides the count.
        patience: Early-stopping patience in epochs.
        description: One line shown by ``list``.
        monitor: Metric that picks the best epoch (early stopping and the restored
            weights), when it should differ from ``metric``; empty: ``metric``. A
            coarse metric such as accuracy on a few dozen validation rows ties
            across many epochs and stops at the first of them; a smooth
            ``val_loss`` picks a well-trained epoch, whose ``metric`` the trial
            returns.
        backend: Keras backend the trials train on (``"tensorflow"`` or ``"jax"``);
            empty: whatever Keras is configured with (``KERAS_BACKEND``). An
            execution setting, like the number of workers: not part of the
            fingerprint, so a study may be resumed on another backend.
        enqueue: Parameter sets to try first (``[[enqueue]]`` tables, e.g. a
            configuration tuned by hand or a published recipe), queued with
            ``optuna.Study.enqueue_trial`` when the study runs and not yet tried;
            a set may fix only some parameters (the sampler picks the others).
            Not part of the fingerprint: a resumed study may queue new sets.
        portfolio: A new study without ``[[enqueue]]`` sets tries its space's
            portfolio first (the space's ``PORTFOLIO``: configurations that did
            well on other data sets, each moved to the nearest point within the
            study's bounds; the sampler picks what a set leaves out). ``false``:
            the sampler picks from the first trial. Not part of the fingerprint.
        metrics: The metrics the model logs (``loss``, ``auc``...; ``val_`` ones
            follow), when they are not the task's own (a model of the user's own,
            see :func:`search.tune`); empty: the task's.
        objectives: More objectives after ``metric`` (``[[objectives]]`` tables of
            ``name`` and ``direction``): a logged validation metric, or a measured
            property of :data:`PROPERTIES` (``params``, ``model_mb``,
            ``latency_ms``, ``latency_ms_batch``; direction ``minimize``). With
            any, the study is multi-objective: ``metric`` stays the one that early
            stopping watches, and its trials are not pruned (a trial worse on
            ``metric`` may be on the Pareto front by its size).
        constraints: ``max_<name>`` or ``min_<name>`` limits (``[constraints]``):
            ``max_params``, ``max_model_mb``, ``max_latency_ms``,
            ``max_latency_ms_batch`` or a logged validation metric
            (``min_val_accuracy``); set with Optuna's ``trial.set_constraint``, so an
            infeasible trial is never the best one or on the front.
        callbacks: A model of one's own trains with these Keras callbacks (see
            :func:`search.tune`): ``file`` (their pickle in the study's artifacts),
            ``sha256`` and ``signature``; ``None``: none. Not part of the fingerprint.
        cv: Folds of k-fold cross-validation (2 to :data:`MAX_FOLDS`), stratified
            for classification, over all training examples: each trial trains
            every fold, reports each fold's value to the pruner (step = fold, as
            ``optuna.pruners.WilcoxonPruner`` expects), and returns their mean;
            its ``best_epoch`` (the holdout's epochs) is the mean of the folds'.
            1 (the default): one validation split (``[data] validation_size``).

    Examples:
        >>> config = load_study_config("imdb-bow")
        >>> config.metric, config.direction
        ('val_accuracy', 'maximize')
        >>> StudyConfig.from_stored("imdb-bow", config.stored() | {"trials": 0})
        Traceback (most recent call last):
        ...
        search.errors.InputError: the stored definition of study 'imdb-bow': 'trials' must be at least 1, got 0
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: Annotated[str, BeforeValidator(check_name)]
    metric: _Text
    direction: Literal["maximize", "minimize"]
    seed: _Seed
    data: Annotated[dict[str, Any], _table(_Data)]
    space: Annotated[dict[str, Any], _table(_Space)]
    sampler: Annotated[dict[str, Any], _table(_Sampler)]
    pruner: Annotated[dict[str, Any], _table(_Pruner)]
    trials: _Trials
    max_epochs: _Epochs
    patience: _Patience
    description: str = ""
    monitor: str = ""
    backend: _Backend = ""
    enqueue: list[Annotated[dict[str, Any], Field(min_length=1)]] = []
    portfolio: bool = True
    metrics: list[_Text] = []
    objectives: Annotated[list[dict[str, Any]], AfterValidator(_objectives)] = []
    constraints: Annotated[dict[str, float], AfterValidator(_check_constraints)] = {}
    cv: _Folds = 1
    callbacks: Annotated[dict[str, Any], _table(_Callbacks)] | None = None

    @model_validator(mode="after")
    def _metric_not_again(self) -> StudyConfig:
        if self.metric in [o["name"] for o in self.objectives]:
            raise ValueError(f"'objectives': {self.metric!r} is already the metric (the first objective)")
        return self

    @classmethod
    def checked(cls, fields: dict[str, Any], *, source: str) -> StudyConfig:
        """A definition made in code (what :func:`search.tune` builds), its first problem one line naming ``source``.

        Examples:
            >>> StudyConfig.checked({"name": "x"}, source="tune()")
            Traceback (most recent call last):
            ...
            search.errors.InputError: tune(): 'metric' is required
        """
        return _validated(cls, fields, source)

    @classmethod
    def from_stored(cls, name: str, fields: Any) -> StudyConfig:
        """The definition stored with study ``name`` (see :meth:`stored`), validated as a file's is.

        Raises:
            search.InputError: No definition, or one that the schema refuses (edited in the database).
        """
        if not isinstance(fields, dict) or not fields:
            raise InputError(f"study {name!r} has no stored definition (not created by python -m search)")
        return _validated(cls, fields, f"the stored definition of study {name!r}")

    def stored(self) -> dict[str, Any]:
        """The JSON form kept with the study (the ``config`` user attribute)."""
        return self.model_dump(mode="json")

    @property
    def objective_names(self) -> list[str]:
        """``metric`` then the names of ``objectives``.

        Examples:
            >>> load_study_config("imdb-bow-pareto").objective_names
            ['val_accuracy', 'params']
        """
        return [self.metric, *(o["name"] for o in self.objectives)]

    @property
    def directions(self) -> list[str]:
        """The direction of each of :attr:`objective_names`."""
        return [self.direction, *(o["direction"] for o in self.objectives)]

    @property
    def multi_objective(self) -> bool:
        return bool(self.objectives)

    @property
    def measured(self) -> list[str]:
        """The :data:`PROPERTIES` that the objectives and constraints need measured, in their order."""
        named = {*self.objective_names, *(limit_name(key) for key in self.constraints)}
        return [p for p in PROPERTIES if p in named]

    @property
    def space_module(self) -> str:
        return str(self.space["module"])

    @property
    def space_bounds(self) -> dict[str, Any]:
        return {k: v for k, v in self.space.items() if k not in ("module", "sha256", SIGNATURE)}

    def replace(self, **changes: Any) -> StudyConfig:
        """A copy with some fields changed, validated again.

        Examples:
            >>> load_study_config("iris").replace(trials=0)
            Traceback (most recent call last):
            ...
            search.errors.InputError: study 'iris': 'trials' must be at least 1, got 0
        """
        return _validated(StudyConfig, {**self.model_dump(), **changes}, f"study {self.name!r}")

    @property
    def monitored(self) -> str:
        """The metric that picks the best epoch: ``monitor`` or else ``metric``."""
        return self.monitor or self.metric

    @property
    def monitor_direction(self) -> str:
        """``direction`` for ``metric`` itself; else maximize for accuracies, minimize for losses and errors.

        Examples:
            >>> load_study_config("iris", monitor="val_loss").monitor_direction
            'minimize'
        """
        if self.monitored == self.metric:
            return self.direction
        return "maximize" if "accuracy" in self.monitored else "minimize"

    @property
    def early_stopping(self) -> dict[str, Any]:
        """How a trial's training stops: ``keras.callbacks.EarlyStopping``'s arguments.

        The trial and the fold models of its holdout both stop by these, so that the
        final model of a cross-validated study is trained as its trials were.

        Examples:
            >>> load_study_config("iris").early_stopping
            {'monitor': 'val_loss', 'mode': 'min', 'patience': 20, 'restore_best_weights': True}
        """
        return {
            "monitor": self.monitored,
            "mode": "max" if self.monitor_direction == "maximize" else "min",
            "patience": self.patience,
            "restore_best_weights": True,
        }

    def fingerprint(self) -> dict[str, Any]:
        """Settings that must not change while a study is resumed (signatures, which name who stored it, aside)."""
        fields = {
            "metric": self.metric,
            "direction": self.direction,
            "seed": self.seed,
            "data": _unsigned(self.data),
            "space": _unsigned(self.space),
            "max_epochs": self.max_epochs,
            "patience": self.patience,
        }
        # Only when set, so studies started without them resume as before.
        for key in ("monitor", "objectives", "constraints"):
            if getattr(self, key):
                fields[key] = getattr(self, key)
        if self.cv > 1:
            fields["cv"] = self.cv
        return fields


def _unsigned(table: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if k != SIGNATURE}


class _Budget(_Schema):
    trials: _Trials | None = None
    max_epochs: _Epochs | None = None
    patience: _Patience | None = None
    monitor: _Text | None = None


class _Definition(_Schema):
    """A study definition as written; :meth:`config` resolves the defaults and the ``[budget]`` table."""

    name: Annotated[str, BeforeValidator(check_name)]
    description: str = ""
    metric: _Text
    direction: Literal["maximize", "minimize"]
    monitor: _Text | None = None
    seed: _Seed = 0
    backend: _Backend = ""
    data: _Data
    space: _Space
    sampler: _Sampler = _Sampler(name="TPESampler")
    pruner: _Pruner = _Pruner(name="MedianPruner")
    budget: _Budget = _Budget()
    trials: _Trials | None = None
    max_epochs: _Epochs | None = None
    patience: _Patience | None = None
    cv: _Folds = 1
    enqueue: list[Annotated[dict[str, Any], Field(min_length=1)]] = []
    portfolio: bool = True
    objectives: Annotated[list[_Objective], AfterValidator(_check_objectives)] = []
    constraints: Annotated[dict[str, float], AfterValidator(_check_constraints)] = {}

    def resolved(self) -> dict[str, Any]:
        """The fields of :class:`StudyConfig`: a top-level budget field wins over the same one in ``[budget]``."""

        def budget(key: str, default: Any) -> Any:
            for value in (getattr(self, key), getattr(self.budget, key)):
                if value is not None:
                    return value
            return default

        return {
            "name": self.name,
            "metric": self.metric,
            "direction": self.direction,
            "seed": self.seed,
            "data": self.data.model_dump(exclude_unset=True),
            "space": self.space.model_dump(exclude_unset=True),
            "sampler": self.sampler.model_dump(exclude_unset=True),
            "pruner": self.pruner.model_dump(exclude_unset=True),
            "trials": budget("trials", 20),
            "max_epochs": budget("max_epochs", 20),
            "patience": budget("patience", 3),
            "description": self.description,
            "monitor": budget("monitor", ""),
            "backend": self.backend,
            "enqueue": self.enqueue,
            "portfolio": self.portfolio,
            "objectives": [{"name": o.name, "direction": str(o.direction)} for o in self.objectives],
            "constraints": {k: float(v) for k, v in self.constraints.items()},
            "cv": self.cv,
        }


def definition_schema() -> dict[str, Any]:
    """The JSON schema of a study definition file, as declared here (what tests draw invalid values from).

    Examples:
        >>> definition_schema()["properties"]["trials"]["anyOf"][0]["maximum"]
        1000000
    """
    return _Definition.model_json_schema()


def available_studies() -> list[str]:
    """Names of the study definitions shipped in the ``studies`` package.

    Examples:
        >>> "imdb-bow" in available_studies()
        True
    """
    root = importlib.resources.files("studies")
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def load_study_config(name_or_path: str | Path, **overrides: Any) -> StudyConfig:
    """Read and validate a study definition.

    Args:
        name_or_path: A study name from :func:`available_studies` or a path to a
            ``.toml`` file of the same form.
        **overrides: Top-level fields to replace, e.g. ``trials=10``; a dict value
            is merged into the table of that name (``data={"vocab_size": 2000}``).

    Returns:
        The validated definition.

    Raises:
        InputError: Unknown study or an invalid definition, as one line naming the
            file and the field (see :func:`_validate`).

    Examples:
        >>> load_study_config("imdb-bow", trials=5).trials
        5
        >>> load_study_config("imdb-bow", budget={"max_epochs": 0})
        Traceback (most recent call last):
        ...
        search.errors.InputError: studies/imdb-bow.toml: 'budget.max_epochs' must be at least 1, got 0
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text()
        source = str(path)
    else:
        if str(name_or_path) not in available_studies():  # a name is a key among the shipped ones, never a path
            known = ", ".join(available_studies())
            raise InputError(f"unknown study {str(name_or_path)!r} (known: {known})")
        text = (importlib.resources.files("studies") / f"{name_or_path}.toml").read_text()
        source = f"studies/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: invalid TOML: {exc}") from None
    for key, value in overrides.items():
        if value is None:
            continue
        table = raw.get(key)
        # A table given where the definition has none (or has a value) replaces it: the schema then says what is wrong.
        raw[key] = {**table, **value} if isinstance(value, dict) and isinstance(table, dict) else value
    return _validate(raw, source)


def _validate(raw: dict[str, Any], source: str) -> StudyConfig:
    """The :class:`StudyConfig` of a definition file, or its first problem as one :class:`InputError` line.

    An unknown key is reported before any other problem: a misspelled key also
    makes the real one missing, and the spelling is what to fix.

    Examples:
        >>> _validate({"name": "x", "metric": "val_loss", "direction": "minimize", "data": {"kind": "iris"},
        ...            "space": {"module": "spaces.mlp"}, "budget": {"trials": 5}}, "x.toml").trials
        5
        >>> _validate({"name": "x", "metric": "val_loss", "direction": "up"}, "x.toml")
        Traceback (most recent call last):
        ...
        search.errors.InputError: x.toml: 'direction' must be one of 'maximize' or 'minimize', got 'up'
        >>> _validate({"name": "x", "metric": "val_loss", "direction": "minimize", "data": {"kind": "iris"},
        ...            "space": {"module": "spaces.mlp", "dropout": [0.0, float("nan")]}}, "x.toml")
        Traceback (most recent call last):
        ...
        search.errors.InputError: x.toml: 'space.dropout.1' must be a finite number, got nan
    """
    definition = _validated(_Definition, raw, source)
    return _validated(StudyConfig, definition.resolved(), source)


def _validated(model: Any, raw: Any, source: str) -> Any:
    """``model`` validated from ``raw``; its first problem as one :class:`InputError` line naming ``source``."""
    for where, value in _numbers(raw):
        if not math.isfinite(value):
            raise InputError(f"{source}: {where!r} must be a finite number, got {value!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise InputError(_one_line(first, source, model)) from None


# What follows the field's name in a message, for each kind of pydantic error (or a field's own kind of error);
# ", got <value>" is added.
_MESSAGES: dict[str | tuple[str, str], str] = {
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "list_type": "must be a list",
    "int_type": "must be an integer",
    "string_type": "must be a string",
    "string_too_short": "must be a non-empty string",
    "too_short": "must not be empty",
    "literal_error": "must be one of {expected}",
    "greater_than_equal": "must be at least {ge:,}",
    "less_than_equal": "must be at most {le:,}",
    "greater_than": "must be above {gt:,}",
    ("enqueue", "list_type"): "must be [[enqueue]] tables of parameter values",
}


def _numbers(value: Any, where: str = "") -> Iterator[tuple[str, float]]:
    """Every float anywhere in ``value`` (tables and lists included), with its dotted place."""
    if isinstance(value, float):
        yield where, value
    elif isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _numbers(item, f"{where}.{key}" if where else str(key))


def _one_line(error: ErrorDetails, source: str, schema: Any = _Definition) -> str:
    """One line for one pydantic error: the source, the field as a dotted path, what it must be and what it was."""
    loc = tuple(str(part) for part in error["loc"])
    where = ".".join(loc)
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        model: Any = schema
        for part in loc[:-1]:  # _Schema tables nest _Schema tables, or lists of them ([[objectives]])
            if part.isdigit():
                continue
            fields = getattr(model, "model_fields", {})
            model = fields[part].annotation if part in fields else None
            while get_args(model) and not hasattr(model, "model_fields"):  # list[...], Annotated[...]
                model = get_args(model)[0]
        known = tuple(getattr(model, "model_fields", ()))
        near = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(known)})" if known else ""
        table = "".join(f": [{part}]" for part in loc[:-1] if not part.isdigit())
        return f"{source}{table}: unknown key {loc[-1]!r}{hint}"
    if kind == "missing":
        return f"{source}: {where!r} is required"
    if kind == "value_error":  # a validator's own message (check_name's, the objectives')
        message = str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
        return f"{source}: {where!r}: {message}" if where else f"{source}: {message}"
    got = _shown(error["input"])
    if kind == "less_than_equal" and loc[-1] == "trials":  # the --trials flag's own message, whichever way it came
        return f"{source}: {where!r} is too large: trials must be at most {MAX_TRIALS:,}, got {got}"
    template = _MESSAGES.get((where, kind)) or _MESSAGES.get(kind)
    message = template.format(**ctx) if template else error["msg"].replace("Input should be", "must be")
    return f"{source}: {where!r} {message}, got {got}"


def _shown(value: Any) -> str:
    """A value as a message shows it: large whole numbers with thousands separators."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return repr(value)
