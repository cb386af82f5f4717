"""Who runs a trial, and whether that process is still alive."""

from __future__ import annotations

import os
import socket
from typing import Any

__all__ = ["is_dead", "worker_identity"]


def worker_identity() -> dict[str, Any]:
    """Host, pid and process start time of this process, stored on each trial it runs.

    Examples:
        >>> worker_identity()["pid"] == os.getpid()
        True
    """
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(), "started": psutil.Process().create_time()}


def is_dead(identity: dict[str, Any] | None) -> bool:
    """Whether the worker that ``identity`` describes has certainly exited.

    Only a process on this host can be checked; for others this returns ``False``
    and the storage heartbeat decides.

    Examples:
        >>> is_dead(worker_identity())
        False
    """
    import psutil

    if not identity or identity.get("host") != socket.gethostname():
        return False
    try:
        process = psutil.Process(int(identity["pid"]))
        # A reused pid belongs to a process that started later.
        return (
            abs(process.create_time() - float(identity["started"])) > 1e-3 or process.status() == psutil.STATUS_ZOMBIE
        )
    except (psutil.NoSuchProcess, KeyError, ValueError, TypeError):
        return True
