"""Per-epoch checkpoints of a trial, so that a re-queued trial resumes where its worker died."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search import models
from search.data import name_key
from search.engine._storage import artifact_dir
from search.errors import InputError

if TYPE_CHECKING:
    import keras

__all__ = [
    "MARKER",
    "Checkpoint",
    "TrialCheckpoints",
    "checkpoint_callback",
    "checkpoint_interval",
    "checkpoint_root",
    "resumable_early_stopping",
]

# Written into every checkpoint folder this tool makes: clean-up removes only folders that hold it.
MARKER = ".search-checkpoint"
DEFAULT_INTERVAL_S = 10.0


def checkpoint_root(url: str, study_name: str) -> Path:
    """The folder of a study's checkpoints: under the artifacts, named by a key of the study name, never by the name.

    Examples:
        >>> checkpoint_root("sqlite:////tmp/x.db", "../../etc").relative_to("/tmp")
        PosixPath('x.db.artifacts/checkpoints/etc-74ccf3c5b4c1')
    """
    return artifact_dir(url) / "checkpoints" / name_key(study_name)


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
    """The checkpoint folder of one trial: ``<root>/trial-<number>/``.

    Files carry the epoch in their names and ``state.json``, written last and
    atomically, names the complete set; a worker killed while saving leaves the
    previous epoch's checkpoint intact.

    Examples:
        >>> import tempfile
        >>> import keras
        >>> import numpy as np
        >>> store = TrialCheckpoints(Path(tempfile.mkdtemp()), 7)
        >>> store.load() is None  # nothing saved yet
        True
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(loss="mse")
        >>> early = keras.callbacks.EarlyStopping(monitor="loss")
        >>> history = model.fit(np.ones((2, 3)), np.ones(2), epochs=1, verbose=0, callbacks=[early])
        >>> store.save(model, 0, history.history, early)
        >>> sorted(path.name for path in store.folder.iterdir())  # the marker: a folder this tool made
        ['.search-checkpoint', 'model-0.keras', 'state.json']
        >>> checkpoint = store.load()
        >>> checkpoint.epoch, list(checkpoint.history)
        (0, ['loss'])
    """

    def __init__(self, root: Path, number: int) -> None:
        self.folder = root / f"trial-{number}"

    def save(self, model: keras.Model, epoch: int, history: dict[str, list[float]], early: Any) -> None:
        """Write the model (with optimizer state), history and early-stopping state of ``epoch``.

        Every file is written under a temporary name (``*.part.*``) in the folder and
        renamed once all are complete, ``state.json`` last: the previous checkpoint
        stays whole and loadable until the new one is. A write that fails (a full
        disk) removes what it wrote, and re-raises.

        Raises:
            OSError: A file could not be written; the previous checkpoint is unchanged.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / MARKER).touch()
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
        final = [name for name in (model_file, best_file, "state.json") if name is not None]
        parts = {name: self.folder / _part_name(name) for name in final}
        try:
            model.save(parts[model_file])
            if best_file is not None:
                np.savez(parts[best_file], *early.best_weights)
            parts["state.json"].write_text(json.dumps(state))
            for name in final:  # state.json last: it names the complete set
                os.replace(parts[name], self.folder / name)
        except BaseException:
            kept = self._named_by_state()
            for name in final:
                parts[name].unlink(missing_ok=True)
                if name not in kept and name != "state.json":
                    (self.folder / name).unlink(missing_ok=True)
            raise
        for old in self.folder.iterdir():  # earlier epochs, and what a killed worker left half-written
            if old.name not in (*final, MARKER):
                old.unlink(missing_ok=True)

    def _named_by_state(self) -> set[str]:
        """The files that the current ``state.json`` names (nothing when there is none or it is unreadable)."""
        try:
            state = json.loads((self.folder / "state.json").read_text())
        except (OSError, ValueError):
            return set()
        return {name for name in (state.get("model"), state.get("best_weights")) if isinstance(name, str)}

    def load(self) -> Checkpoint | None:
        """The last complete checkpoint, or ``None`` when there is none (or it is unreadable)."""
        state_file = self.folder / "state.json"
        if not state_file.is_file():
            return None
        try:
            state = json.loads(state_file.read_text())
            model = models.load_model(self.folder / state["model"])
            early = dict(state["early_stopping"])
            early["best_weights"] = None
            if state["best_weights"]:
                with np.load(self.folder / state["best_weights"]) as arrays:
                    early["best_weights"] = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        except (OSError, ValueError, KeyError):
            return None  # a damaged checkpoint: the trial starts again from scratch
        return Checkpoint(model=model, epoch=int(state["epoch"]), history=state["history"], early_stopping=early)

    def remove(self) -> None:
        """Delete the folder (the trial finished; nothing to resume), only if this tool made it (its marker)."""
        if (self.folder / MARKER).is_file():
            shutil.rmtree(self.folder, ignore_errors=True)


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
    costs about 60 ms for an ``imdb-bow`` MLP, a tenth of a short epoch on its
    sparse path; a worker that dies loses at most this much training.

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
            self._last = time.monotonic()

    return _Save()


def _part_name(name: str) -> str:
    """The temporary name a checkpoint file is written under (Keras wants the ``.keras`` suffix kept).

    Examples:
        >>> _part_name("model-3.keras"), _part_name("state.json")
        ('model-3.part.keras', 'state.part.json')
    """
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.part{dot}{suffix}"
