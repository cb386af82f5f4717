"""What a study stores about its trials, typed: written to and read from Optuna's user attributes here only.

A trial leaves a :class:`TrialOutcome` (how it stopped, its best epoch, curves,
configuration, errors, retry lineage); every process that reads one validates it
the same way, so a value edited in the database is one :class:`search.InputError`
line, never a traceback. Trials stored by earlier versions read as they are: an
exception's type name in ``stopped_by`` reads as :attr:`StoppedBy.FAILED`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from search.errors import InputError

if TYPE_CHECKING:
    import optuna

__all__ = ["StoppedBy", "TrialOutcome", "record"]


class StoppedBy(enum.StrEnum):
    """Why a trial's training ended (the ``stopped_by`` user attribute).

    Examples:
        >>> StoppedBy.read("early_stopping").status, StoppedBy.read("ValueError")  # an older study's failure
        ('complete', <StoppedBy.FAILED: 'failed'>)
        >>> StoppedBy.read("KeyboardInterrupt").interrupted
        True
    """

    EARLY_STOPPING = "early_stopping"
    MAX_EPOCHS = "max_epochs"
    PRUNED = "pruned"
    DIVERGED = "diverged"  # a loss that turned NaN or infinite
    SURPLUS = "surplus"  # started once other workers had filled the budget: failed at once, never trained
    INTERRUPTED = "KeyboardInterrupt"  # Ctrl-C or SIGTERM: kept with its checkpoint, re-queued by the next run
    FAILED = "failed"  # the build function, training or a callback raised (see ``error``)

    @classmethod
    def read(cls, value: Any) -> StoppedBy | None:
        """The member a stored value means; any other text (an earlier version's exception name) is ``FAILED``."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            return cls.FAILED

    @property
    def status(self) -> str:
        """``complete``, ``pruned`` or ``failed``: what the trial's note and reports call it."""
        if self in (StoppedBy.EARLY_STOPPING, StoppedBy.MAX_EPOCHS):
            return "complete"
        return "pruned" if self is StoppedBy.PRUNED else "failed"

    @property
    def interrupted(self) -> bool:
        """Stopped from outside (a signal, a dead worker), not by its own training: re-queued."""
        return self is StoppedBy.INTERRUPTED


_Count = Annotated[int, Field(ge=0)]


class TrialOutcome(BaseModel):
    """What a trial leaves in its user attributes, validated as it is read.

    Attributes:
        stopped_by: Why its training ended.
        config: The configuration the space sampled (what the holdout retrains).
        history: Per-epoch logs, ``epoch_time`` included.
        best_epoch: The epoch (from 0) whose weights were restored; of a
            cross-validated trial, the rounded mean of its folds'.
        epochs_trained: Epochs trained (of the last fold, for folds).
        folds: A cross-validated trial's folds: each ``best_epoch``, ``epochs``, ``values``.
        n_params: The model's parameter count.
        wall_time_s: Seconds from sampling to its end.
        seconds_training, seconds_compiling: Of that, training (compilation left out) and
            compiling XLA programs (or fetching them from the persistent cache).
        compile_cache_hits, compile_cache_misses: Programs the persistent compilation
            cache had, and those this trial compiled.
        error: A failed trial's exception, type and message.
        error_traceback: The user's own frames of that exception's traceback.
        retry_of: The trial this one retries (its worker died or was interrupted).
        retry_history: Every trial this one retries, the newest first (the lineage,
            kept on the retry itself, as Optuna's ``RetryFailedTrialCallback`` does).
        stalled: Retries in a row that died without a new epoch.
        resumed_from_epoch: The checkpoint's epoch a retry resumed from.
        resumed_from_fold: The folds a cross-validated retry took over from the trial it retries.
        queued_params: The parameters a trial was queued with (``enqueue``).
        enqueued: Queued by the definition's ``[[enqueue]]``.
        portfolio: Queued from the space's portfolio (a new study's first trials).
        group: The space's label for its configuration (``spaces.text``: frozen or fine-tuned).
        worker: Host, process id and start time of the process that ran it.
        backend: The Keras backend it trained on.
        alive_at: When a worker behind a gRPC proxy last said it was alive (Unix time).
        checkpoint_error: Why a checkpoint could not be written (the trial went on).
        params, model_mb, latency_ms, latency_ms_batch: Measured properties (see
            :data:`search.engine._config.PROPERTIES`), when objectives or constraints name them.

    Examples:
        >>> TrialOutcome.read({"stopped_by": "pruned", "best_epoch": 2}, number=4).status
        'pruned'
        >>> TrialOutcome.read({"best_epoch": "many"}, number=4)
        Traceback (most recent call last):
        ...
        search.errors.InputError: trial 4's stored 'best_epoch' must be a whole number, got 'many'
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    stopped_by: StoppedBy | None = None
    config: dict[str, Any] | None = None
    history: dict[str, list[float]] = {}
    best_epoch: _Count | None = None
    epochs_trained: _Count | None = None
    folds: list[dict[str, Any]] = []
    n_params: _Count | None = None
    wall_time_s: float | None = None
    error: str | None = None
    error_traceback: str | None = None
    retry_of: _Count | None = None
    retry_history: list[_Count] = []
    stalled: _Count = 0
    resumed_from_epoch: int | None = None
    queued_params: dict[str, Any] = {}
    resumed_from_fold: _Count | None = None
    enqueued: bool = False
    portfolio: bool = False
    group: str | None = None
    worker: dict[str, Any] | None = None
    backend: str | None = None
    alive_at: float | None = None
    checkpoint_error: str | None = None
    # Measured properties of the trained model (search.engine.PROPERTIES), when objectives or constraints name them.
    params: float | None = None
    model_mb: float | None = None
    latency_ms: float | None = None
    latency_ms_batch: float | None = None
    seconds_training: float | None = None  # training, compilation left out
    seconds_compiling: float | None = None  # tracing, lowering and compiling XLA programs, or fetching them cached
    compile_cache_hits: int | None = None  # programs the persistent compilation cache had
    compile_cache_misses: int | None = None  # programs compiled (and cached) by this trial
    latency_batch: int | None = None  # the batch latency_ms_batch was measured with
    latency_device: str | None = None  # where the latencies were measured (backend and device)

    @field_validator("stopped_by", mode="before")
    @classmethod
    def _known(cls, value: Any) -> StoppedBy | None:
        return StoppedBy.read(value)

    @classmethod
    def read(cls, attrs: dict[str, Any], *, number: int) -> TrialOutcome:
        """The outcome in a trial's user attributes.

        Raises:
            search.InputError: A stored value of the wrong kind (edited in the database).
        """
        try:
            return cls.model_validate(attrs)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            kind = "a whole number" if first["type"].startswith("int") else first["msg"].lower()
            kind = kind.replace("input should be ", "")
            raise InputError(f"trial {number}'s stored {where!r} must be {kind}, got {first['input']!r}") from None

    @classmethod
    def of(cls, trial: optuna.trial.FrozenTrial) -> TrialOutcome:
        """The outcome of a stored trial (see :meth:`read`)."""
        return cls.read(trial.user_attrs, number=trial.number)

    @property
    def status(self) -> str:
        """``complete``, ``pruned``, ``failed``, or ``running`` while it has no ``stopped_by``."""
        return self.stopped_by.status if self.stopped_by is not None else "running"

    @property
    def retried(self) -> list[int]:
        """The trials this one retries, newest first: its lineage (``retry_of`` alone, for earlier versions)."""
        if self.retry_history:
            return list(self.retry_history)
        return [self.retry_of] if self.retry_of is not None else []


_FIELDS = set(TrialOutcome.model_fields)


def record(trial: optuna.trial.Trial, **fields: Any) -> None:
    """Store outcome ``fields`` on a running trial, each checked against :class:`TrialOutcome` first.

    Examples:
        >>> import optuna
        >>> trial = optuna.create_study().ask()
        >>> record(trial, stopped_by=StoppedBy.PRUNED, best_epoch=3)
        >>> trial.user_attrs
        {'stopped_by': 'pruned', 'best_epoch': 3}
    """
    unknown = set(fields) - _FIELDS
    if unknown:
        raise TypeError(f"not fields of a trial's outcome: {sorted(unknown)}")
    checked = TrialOutcome.model_validate(fields)
    for name in fields:
        value = getattr(checked, name)
        trial.set_user_attr(name, value.value if isinstance(value, StoppedBy) else fields[name])
