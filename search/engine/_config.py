"""Declarative study definitions: TOML files in the ``studies`` package."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from search.errors import InputError

__all__ = ["StudyConfig", "available_studies", "check_name", "load_study_config"]

_DIRECTIONS = ("maximize", "minimize")
BACKENDS = ("tensorflow", "jax")


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Everything that defines a study, read from ``studies/<name>.toml``.

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
        metrics: The metrics the model logs (``loss``, ``auc``...; ``val_`` ones
            follow), when they are not the task's own (a model of the user's own,
            see :func:`search.tune`); empty: the task's.

    Examples:
        >>> config = load_study_config("imdb-bow")
        >>> config.metric, config.direction
        ('val_accuracy', 'maximize')
    """

    name: str
    metric: str
    direction: str
    seed: int
    data: dict[str, Any]
    space: dict[str, Any]
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    trials: int
    max_epochs: int
    patience: int
    description: str = ""
    monitor: str = ""
    backend: str = ""
    enqueue: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    metrics: list[str] = dataclasses.field(default_factory=list)

    @property
    def space_module(self) -> str:
        return str(self.space["module"])

    @property
    def space_bounds(self) -> dict[str, Any]:
        return {k: v for k, v in self.space.items() if k not in ("module", "sha256")}

    def replace(self, **changes: Any) -> StudyConfig:
        """Return a copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

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

    def fingerprint(self) -> dict[str, Any]:
        """Settings that must not change while a study is resumed."""
        fields = {
            "metric": self.metric,
            "direction": self.direction,
            "seed": self.seed,
            "data": self.data,
            "space": self.space,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
        }
        if self.monitor:  # only when set, so studies started without it resume as before
            fields["monitor"] = self.monitor
        return fields


MAX_NAME_LENGTH = 128


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

    Raises:
        InputError: Unknown study or an invalid definition.

    Examples:
        >>> load_study_config("imdb-bow", trials=5).trials
        5
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        text = path.read_text()
        source = str(path)
    else:
        resource = importlib.resources.files("studies") / f"{name_or_path}.toml"
        if not resource.is_file():
            known = ", ".join(available_studies())
            raise InputError(f"unknown study {str(name_or_path)!r} (known: {known})")
        text = resource.read_text()
        source = f"studies/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: invalid TOML: {exc}") from None
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict):
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    return _validate(raw, source)


_TOP_KEYS = (
    "name",
    "description",
    "metric",
    "direction",
    "monitor",
    "seed",
    "backend",
    "data",
    "space",
    "sampler",
    "pruner",
    "budget",
    "trials",
    "max_epochs",
    "patience",
    "enqueue",
)
_BUDGET_KEYS = ("trials", "max_epochs", "patience", "monitor")


def _refuse_unknown(keys: Any, known: tuple[str, ...], where: str) -> None:
    """One line for a key the definition does not have, with the nearest valid name."""
    for key in keys:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(known)})"
            raise InputError(f"{where}: unknown key {key!r}{hint}")


def _validate(raw: dict[str, Any], source: str) -> StudyConfig:
    _refuse_unknown(raw, _TOP_KEYS, source)
    budget = raw.pop("budget", {})
    if not isinstance(budget, dict):
        raise InputError(f"{source}: [budget] must be a table")
    _refuse_unknown(budget, _BUDGET_KEYS, f"{source}: [budget]")
    fields = {
        "name": raw.get("name"),
        "metric": raw.get("metric"),
        "direction": raw.get("direction"),
        "seed": raw.get("seed", 0),
        "data": raw.get("data", {}),
        "space": raw.get("space", {}),
        "sampler": raw.get("sampler", {"name": "TPESampler"}),
        "pruner": raw.get("pruner", {"name": "MedianPruner"}),
        "trials": raw.get("trials", budget.get("trials", 20)),
        "max_epochs": raw.get("max_epochs", budget.get("max_epochs", 20)),
        "patience": raw.get("patience", budget.get("patience", 3)),
        "description": raw.get("description", ""),
        "monitor": raw.get("monitor", budget.get("monitor", "")),
        "backend": raw.get("backend", ""),
        "enqueue": raw.get("enqueue", []),
    }
    try:
        check_name(fields["name"])
    except InputError as exc:
        raise InputError(f"{source}: 'name': {exc}") from None
    if not isinstance(fields["metric"], str) or not fields["metric"]:
        raise InputError(f"{source}: 'metric' must be a non-empty string")
    if not isinstance(fields["monitor"], str):
        raise InputError(f"{source}: 'monitor' must be a metric name, got {fields['monitor']!r}")
    if fields["backend"] not in ("", *BACKENDS):
        raise InputError(f"{source}: 'backend' must be one of {BACKENDS} (or empty), got {fields['backend']!r}")
    if fields["direction"] not in _DIRECTIONS:
        raise InputError(f"{source}: 'direction' must be one of {_DIRECTIONS}, got {fields['direction']!r}")
    for key in ("data", "space", "sampler", "pruner"):
        if not isinstance(fields[key], dict):
            raise InputError(f"{source}: [{key}] must be a table")
    if "kind" not in fields["data"]:
        raise InputError(f"{source}: [data] needs a 'kind'")
    if "module" not in fields["space"]:
        raise InputError(f"{source}: [space] needs a 'module'")
    if not isinstance(fields["enqueue"], list) or not all(isinstance(e, dict) and e for e in fields["enqueue"]):
        raise InputError(f"{source}: 'enqueue' must be [[enqueue]] tables of parameter values")
    for key in ("sampler", "pruner"):
        if "name" not in fields[key]:
            raise InputError(f"{source}: [{key}] needs a 'name'")
    for key in ("seed", "trials", "max_epochs", "patience"):
        value = fields[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(f"{source}: {key!r} must be a non-negative integer, got {value!r}")
    if fields["trials"] < 1 or fields["max_epochs"] < 1:
        raise InputError(f"{source}: 'trials' and 'max_epochs' must be at least 1")
    return StudyConfig(**fields)
