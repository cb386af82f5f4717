"""Per-epoch checkpoints of a trial, so that a re-queued trial resumes where its worker died."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search import models
from search.data import name_key
from search.engine._artifacts import Artifacts, local_copy
from search.errors import InputError

if TYPE_CHECKING:
    import keras

__all__ = [
    "Checkpoint",
    "TrialCheckpoints",
    "checkpoint_callback",
    "checkpoint_interval",
    "checkpoint_prefix",
    "checkpointed_trials",
    "resumable_early_stopping",
]

DEFAULT_INTERVAL_S = 10.0


def checkpoint_prefix(study_name: str) -> str:
    """The folder of a study's checkpoints inside its artifacts: named by a key of the study name, never by the name.

    Examples:
        >>> checkpoint_prefix("../../etc")
        'checkpoints/etc-74ccf3c5b4c1/'
    """
    return f"checkpoints/{name_key(study_name)}/"


@dataclasses.dataclass
class Checkpoint:
    """What a trial had after its last completed epoch.

    Attributes:
        model: The model with its optimizer state, as saved after ``epoch``.
        epoch: Last completed epoch (0-based).
        history: Per-epoch logs up to ``epoch``.
        early_stopping: ``best``, ``wait``, ``best_epoch``, ``stopped_epoch`` and
            ``best_weights`` of the early-stopping callback.
    """

    model: keras.Model
    epoch: int
    history: dict[str, list[float]]
    early_stopping: dict[str, Any]


class TrialCheckpoints:
    """The checkpoints of one trial: ``checkpoints/<study key>/trial-<number>/`` in the study's artifact store.

    Files carry the epoch in their names and ``state.json``, written last (every
    store writes a file whole or not at all), names the complete set: a worker
    killed while saving leaves the previous epoch's checkpoint intact, on this
    machine's folder, a shared one, or S3, where a worker on another machine finds it.

    Examples:
        >>> import tempfile
        >>> import keras
        >>> import numpy as np
        >>> from search.engine._artifacts import FolderArtifacts
        >>> store = TrialCheckpoints(FolderArtifacts(Path(tempfile.mkdtemp())), "demo", 7)
        >>> store.load() is None  # nothing saved yet
        True
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> early = keras.callbacks.EarlyStopping(monitor="loss")
        >>> history = model.fit(np.ones((2, 3)), np.ones(2), epochs=1, verbose=0, callbacks=[early])
        >>> store.save(model, 0, history.history, early)
        >>> [name.rpartition("/")[2] for name in store.artifacts.names(store.folder)]
        ['model-0.keras', 'state.json']
        >>> checkpoint = store.load()
        >>> checkpoint.epoch, list(checkpoint.history)
        (0, ['loss'])
    """

    def __init__(self, artifacts: Artifacts, study_name: str, number: int) -> None:
        self.artifacts = artifacts
        self.folder = f"{checkpoint_prefix(study_name)}trial-{number}/"
        self._kept: set[str] | None = None  # the files state.json names, once read or written here

    def save(self, model: keras.Model, epoch: int, history: dict[str, list[float]], early: Any) -> None:
        """Write the model (with optimizer state), history and early-stopping state of ``epoch``.

        The model and best weights go first under names carrying the epoch, then
        ``state.json`` names them; the files of the previous epoch are removed
        only after. A write that fails (a full disk) leaves the previous
        checkpoint the one that loads, and re-raises.

        Raises:
            OSError: A file could not be written; the previous checkpoint is unchanged.
        """
        kept = self._named_by_state() if self._kept is None else self._kept
        model_file = f"model-{epoch}.keras"
        best_file = None if early.best_weights is None else f"best-{epoch}.npz"
        state = {
            "epoch": epoch,
            "model": model_file,
            "best_weights": best_file,
            "history": history,
            "early_stopping": {
                "best": None if early.best is None else float(early.best),
                "wait": int(early.wait),
                "best_epoch": int(early.best_epoch),
                "stopped_epoch": int(early.stopped_epoch),
            },
        }
        written = []
        try:
            with tempfile.TemporaryDirectory(prefix="search-checkpoint-") as scratch:
                local = Path(scratch) / model_file
                models.save_model(model, local, as_is=True)  # the training loop goes on with it
                self.artifacts.put(self.folder + model_file, local.read_bytes())
                written.append(model_file)
            if best_file is not None:
                buffer = io.BytesIO()
                np.savez(buffer, *early.best_weights)
                self.artifacts.put(self.folder + best_file, buffer.getvalue())
                written.append(best_file)
            self.artifacts.put(self.folder + "state.json", json.dumps(state).encode())
        except BaseException:
            for name in written:
                if name not in kept:
                    with contextlib.suppress(Exception):
                        self.artifacts.remove(self.folder + name)
            raise
        self._kept = set(written)
        for name in kept - self._kept:  # the previous epoch's files
            with contextlib.suppress(Exception):
                self.artifacts.remove(self.folder + name)

    def _state(self) -> dict[str, Any] | None:
        blob = self.artifacts.read(self.folder + "state.json")
        if blob is None:
            return None
        try:
            state = json.loads(blob)
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    def _named_by_state(self) -> set[str]:
        """The files that the current ``state.json`` names (nothing when there is none or it is unreadable)."""
        state = self._state() or {}
        return {name for name in (state.get("model"), state.get("best_weights")) if isinstance(name, str)}

    def load(self) -> Checkpoint | None:
        """The last complete checkpoint, or ``None`` when there is none (or it is unreadable)."""
        state = self._state()
        if state is None:
            return None
        try:
            with local_copy(self.artifacts, self.folder + str(state["model"])) as path:
                if path is None:
                    return None
                model = models.load_model(path)
            early = dict(state["early_stopping"])
            early["best_weights"] = None
            if state["best_weights"]:
                blob = self.artifacts.read(self.folder + str(state["best_weights"]))
                if blob is None:
                    return None
                with np.load(io.BytesIO(blob)) as arrays:
                    early["best_weights"] = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        except (OSError, ValueError, KeyError, InputError):
            return None  # a damaged checkpoint: the trial starts again from scratch
        return Checkpoint(model=model, epoch=int(state["epoch"]), history=state["history"], early_stopping=early)

    def remove(self) -> None:
        """Delete the trial's checkpoint files (it finished: nothing to resume)."""
        for name in self.artifacts.names(self.folder):
            with contextlib.suppress(Exception):
                self.artifacts.remove(name)


def checkpointed_trials(artifacts: Artifacts, study_name: str) -> set[int]:
    """Numbers of the trials that have checkpoint files in the store.

    Examples:
        >>> import tempfile
        >>> from search.engine._artifacts import FolderArtifacts
        >>> store = FolderArtifacts(Path(tempfile.mkdtemp()))
        >>> store.put(checkpoint_prefix("demo") + "trial-3/state.json", b"{}")
        >>> checkpointed_trials(store, "demo")
        {3}
    """
    prefix = checkpoint_prefix(study_name)
    numbers = {name[len(prefix) :].split("/", 1)[0].removeprefix("trial-") for name in artifacts.names(prefix)}
    return {int(number) for number in numbers if number.isdigit()}


def resumable_early_stopping(state: dict[str, Any] | None, **kwargs: Any) -> keras.callbacks.EarlyStopping:
    """``keras.callbacks.EarlyStopping`` that starts from a checkpoint's state.

    ``EarlyStopping`` resets itself when training begins; this one then puts back
    the best value, the epochs waited, the best epoch and its weights.
    """
    import keras

    class _Resumable(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            super().on_train_begin(logs)
            if state is not None:
                if state["best"] is not None:
                    self.best = state["best"]
                self.wait = state["wait"]
                self.best_epoch = state["best_epoch"]
                self.stopped_epoch = state["stopped_epoch"]
                self.best_weights = state["best_weights"]

    return _Resumable(**kwargs)


def checkpoint_interval() -> float:
    """Seconds of training between two checkpoints of a trial: ``SEARCH_CHECKPOINT_EVERY`` or 10.

    ``0`` checkpoints every epoch. A checkpoint (model, optimizer state, curves)
    costs a fraction of a short ``imdb-bow`` epoch (docs/benchmarks.md); a
    worker that dies loses at most this much training.

    Raises:
        search.InputError: Not a number of seconds.

    Examples:
        >>> checkpoint_interval() >= 0
        True
    """
    value = os.environ.get("SEARCH_CHECKPOINT_EVERY", "").strip()
    if not value:
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise InputError(f"SEARCH_CHECKPOINT_EVERY must be a number of seconds (0: every epoch), got {value!r}")
    return seconds


def checkpoint_callback(
    store: TrialCheckpoints,
    recorder: Any,
    early: Any,
    on_error: Callable[[int, OSError], None] | None = None,
    *,
    every_s: float = 0.0,
    on_saved: Callable[[], None] | None = None,
) -> keras.callbacks.Callback:
    """A callback that saves ``store`` after an epoch (after early stopping has updated).

    Args:
        store: The trial's checkpoints.
        recorder: The epoch recorder (its ``history``).
        early: The early-stopping callback (its state is saved).
        on_error: Called with the epoch and the error when a checkpoint cannot be
            written (a full disk); training then goes on, and the previous
            checkpoint stays the one a retry resumes from. Without it the error
            stops training.
        every_s: Save after the first epoch that ends at least this many seconds
            after training started or after the last save (``0``: every epoch).
        on_saved: Called after each checkpoint written (the objective then stores
            the trial's curves, so that they are never behind its checkpoint).
    """
    import keras

    class _Save(keras.callbacks.Callback):
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self._last = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if time.monotonic() - self._last < every_s:
                return
            try:
                store.save(self.model, epoch, recorder.history, early)
            except OSError as exc:
                if on_error is None:
                    raise
                on_error(epoch, exc)
            else:
                if on_saved is not None:
                    on_saved()
            self._last = time.monotonic()

    return _Save()
