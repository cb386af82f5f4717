"""XLA compilation: a persistent cache shared by every process of a machine, and what each trial compiled.

JAX compiles each distinct program (a model's epoch scan, its validation scan)
once per process; the persistent compilation cache (``jax_compilation_cache_dir``)
keeps the compiled programs on disk, so that the same program is compiled once
per machine: the folds of a cross-validated trial, the holdout's models,
repeats, ensemble members, a resumed trial and every worker process find it
there. :class:`CompileStats` counts, through ``jax.monitoring``, the cache hits
and misses and the seconds spent compiling while a block runs.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from search.data import cache_dir

__all__ = ["CompileStats", "compile_cache_dir", "compiling", "use_compile_cache"]

CACHE_ENV = "SEARCH_COMPILE_CACHE"
"""``off`` (or ``0``) turns the persistent compilation cache off; a folder puts it there."""

_OPTIONS = {  # what JAX reads at import; jax.config.update sets them later
    "jax_compilation_cache_dir": "JAX_COMPILATION_CACHE_DIR",
    "jax_persistent_cache_min_compile_time_secs": "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "jax_persistent_cache_min_entry_size_bytes": "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
}


def compile_cache_dir() -> str | None:
    """Where compiled programs are kept: ``SEARCH_COMPILE_CACHE`` (``off``: nowhere), else ``SEARCH_CACHE_DIR/xla``.

    Examples:
        >>> compile_cache_dir().endswith("xla")  # with SEARCH_COMPILE_CACHE unset
        True
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("off", "0", "false", "no"):
        return None
    return value or str(cache_dir() / "xla")


def use_compile_cache() -> None:
    """Turn on JAX's persistent compilation cache for this process and the processes it starts (user values win).

    Every program is cached, however fast it compiled: a small model's epoch
    compiles in about a second, which a trial of a few seconds cannot afford twice.
    """
    folder = compile_cache_dir()
    if folder is None:
        return
    values = {"jax_compilation_cache_dir": folder, "jax_persistent_cache_min_compile_time_secs": "0"}
    values["jax_persistent_cache_min_entry_size_bytes"] = "0"
    for option, variable in _OPTIONS.items():
        if not os.environ.get(variable):  # unset or empty
            os.environ[variable] = values[option]
    if "jax" in sys.modules:  # imported already: its configuration read the environment before
        import jax

        kinds = {"jax_compilation_cache_dir": str, "jax_persistent_cache_min_compile_time_secs": float}
        for option, variable in _OPTIONS.items():
            jax.config.update(option, kinds.get(option, int)(os.environ[variable]))


@dataclasses.dataclass
class CompileStats:
    """What a block compiled: persistent-cache hits and misses, and the seconds spent compiling (or fetching)."""

    hits: int = 0
    requests: int = 0  # compilations asked of the cache: hits and misses
    seconds: float = 0.0

    @property
    def misses(self) -> int:
        return self.requests - self.hits


_active = threading.local()
_listening = False
_COMPILE_DURATIONS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
    "/jax/compilation_cache/cache_retrieval_time_sec",
)


def _listen() -> None:
    """Register (once per process) the ``jax.monitoring`` listeners that feed the active :class:`CompileStats`."""
    global _listening
    if _listening or "jax" not in sys.modules:
        return
    import jax.monitoring

    def event(event: str, **kwargs: str | int) -> None:
        stats = getattr(_active, "stats", None)
        if stats is None:
            return
        if event == "/jax/compilation_cache/cache_hits":
            stats.hits += 1
        elif event == "/jax/compilation_cache/compile_requests_use_cache":
            stats.requests += 1

    def duration(event: str, duration_secs: float, **kwargs: str | int) -> None:
        stats = getattr(_active, "stats", None)
        if stats is not None and event in _COMPILE_DURATIONS:
            stats.seconds += duration_secs

    jax.monitoring.register_event_listener(event)
    jax.monitoring.register_event_duration_secs_listener(duration)
    _listening = True


@contextmanager
def compiling() -> Iterator[CompileStats]:
    """Count what the block compiles (on JAX; nothing on other backends).

    Examples:
        >>> with compiling() as stats:
        ...     pass
        >>> stats.hits, stats.misses
        (0, 0)
    """
    _listen()
    stats = CompileStats()
    outer = getattr(_active, "stats", None)
    _active.stats = stats
    try:
        yield stats
    finally:
        _active.stats = outer
        if outer is not None:
            outer.hits, outer.requests = outer.hits + stats.hits, outer.requests + stats.requests
            outer.seconds += stats.seconds
