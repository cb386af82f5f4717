"""A user's own Keras callbacks: checked once, kept with the study, and a fresh copy of each for every model trained.

``search.tune(..., callbacks=[...])`` passes them to every trial, fold, worker
process, holdout retraining and ensemble member, as ``model.fit(callbacks=...)``
would. They travel to other processes as the build function does: pickled by
value (cloudpickle) into the study's artifacts, with their SHA-256 and this
user's signature recorded in the definition (``[callbacks]``), and read back
only when the process trusts them (:func:`search.engine._trust.check_pickle`).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from typing import Any

from search.data import name_key
from search.engine._artifacts import Artifacts
from search.engine._config import SIGNATURE, StudyConfig
from search.engine._trust import given, keep_given, read_stored_pickle, sign
from search.errors import InputError

__all__ = ["check_callbacks", "fresh_callbacks", "keep_callbacks", "study_callbacks"]

# What the tool does itself for every trial: a user's own would fight it.
_REFUSED = {
    "EarlyStopping": "set patience (and monitor) instead",
    "ModelCheckpoint": "the holdout saves the final model",
    "BackupAndRestore": "a trial resumes from its own checkpoints",
}


def check_callbacks(callbacks: Any) -> list[Any]:
    """Keras callbacks a study may train with; those that would fight the tool's own are refused with one line.

    Raises:
        search.InputError: Not a list of callbacks, or early stopping, checkpointing or backup of one's own.

    Examples:
        >>> import keras
        >>> len(check_callbacks([keras.callbacks.TerminateOnNaN()]))
        1
        >>> check_callbacks([keras.callbacks.EarlyStopping()])
        Traceback (most recent call last):
        ...
        search.errors.InputError: callbacks: EarlyStopping fights the tool: the tool stops and checkpoints every ...
    """
    import keras

    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(callbacks, Sequence):
        raise InputError(f"callbacks must be a list of keras.callbacks.Callback, got {type(callbacks).__name__}")
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise InputError(f"callbacks must be keras.callbacks.Callback instances, got {type(callback).__name__}")
        for name, instead in _REFUSED.items():
            if isinstance(callback, getattr(keras.callbacks, name)):
                raise InputError(
                    f"callbacks: {name} fights the tool: the tool stops and checkpoints every trial itself ({instead})"
                )
    return list(callbacks)


def keep_callbacks(callbacks: list[Any], study: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The definition's ``callbacks`` table and the file to store, for callbacks given to this process.

    The callbacks are pickled by value (cloudpickle) as ``functions/<key>.callbacks.pkl``;
    this process keeps them in memory under their digest. No callbacks: ``({}, {})``.
    """
    if not callbacks:
        return {}, {}
    import cloudpickle

    try:
        blob = cloudpickle.dumps(callbacks)
    except Exception as exc:  # pickling runs the objects' own code: any error is theirs
        raise InputError(f"callbacks cannot be pickled for the workers and the holdout: {exc}") from None
    digest = hashlib.sha256(blob).hexdigest()
    name = f"functions/{name_key(study)}.callbacks.pkl"
    keep_given(callbacks, digest)
    return {"file": name, "sha256": digest, SIGNATURE: sign(name, digest)}, {name: blob}


def study_callbacks(config: StudyConfig, store: Artifacts | None, allow: Sequence[str] = ()) -> list[Any]:
    """The callbacks a study trains with: given to this process, or read from its artifacts as trust allows.

    Raises:
        search.InputError: A file that is missing, altered or not trusted here.
    """
    table = config.callbacks
    if not table:
        return []
    kept = given(table.get("sha256"))
    if kept is not None:
        return list(kept)
    return check_callbacks(read_stored_pickle("callbacks", str(table.get("file", "")), table, store, allow))


def fresh_callbacks(callbacks: Sequence[Any], label: str) -> list[Any]:
    """A fresh copy of each callback for one model (``label``: ``trial-3``, ``trial-3/fold-2``, ``holdout``...).

    Callbacks keep state (a learning-rate schedule's patience, a logger's files):
    every model gets its own. A ``TensorBoard`` callback writes under
    ``<log_dir>/<label>``, so that trials do not write over each other.

    Examples:
        >>> import keras
        >>> (board,) = fresh_callbacks([keras.callbacks.TensorBoard(log_dir="logs")], "trial-3")
        >>> board.log_dir
        'logs/trial-3'
    """
    import keras

    copies = []
    for callback in callbacks:
        made = copy.deepcopy(callback)
        if isinstance(made, keras.callbacks.TensorBoard):
            made.log_dir = os.path.join(str(made.log_dir), label)
        copies.append(made)
    return copies
