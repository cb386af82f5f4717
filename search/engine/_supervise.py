"""Worker processes on this machine: started, relayed, restarted at their memory limit, stopped with their run.

:func:`run_study` hands its trials to :func:`run_workers` when it runs them in
worker processes; each worker is :func:`search.engine._run.join_study` in a fresh
interpreter (``search.engine._process``). How many workers a machine gets
(:func:`default_workers`, ``nvidia-smi``'s GPUs) and which cores each is pinned to
(:func:`worker_cores`) are decided here too.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from search.engine._config import StudyConfig
from search.engine._optimize import progress_bar
from search.engine._ranking import count_finished
from search.engine._trust import creator_allows
from search.errors import InputError, MemoryLimitReached, RunError

if TYPE_CHECKING:
    import optuna

__all__ = [
    "RESTART_EXIT_STATUS",
    "default_workers",
    "device_line",
    "pin_cores",
    "run_workers",
    "spawn_worker",
    "usable_gpus",
    "worker_cores",
]

# A worker process that stopped at its memory limit exits with this status (EX_TEMPFAIL) to be started again.
RESTART_EXIT_STATUS = MemoryLimitReached.exit_status
_POLL_S = 1.0
_GPU_GIB_PER_WORKER = 16  # a GPU takes one worker per this much memory (small models), at most 4


def run_workers(
    study: optuna.Study,
    config: StudyConfig,
    url: str,
    *,
    workers: int,
    deadline: float | None,
    memory_limit_mb: float | None,
    show: bool,
    artifacts: str | None = None,
    gpus: Sequence[int] = (),
) -> None:
    """Start ``workers`` worker processes on ``study`` and watch them until they end.

    A worker that stopped at its memory limit is started again while work is left.
    With several ``gpus``, worker ``slot`` sees only GPU ``gpus[slot % len(gpus)]``.
    """

    def start(slot: int) -> subprocess.Popen[bytes]:
        left = None if deadline is None else max(1.0, deadline - time.monotonic())
        return spawn_worker(
            config.name,
            storage=url,
            allow_modules=creator_allows(config),
            slot=slot,
            n_slots=workers,
            backend=config.backend,
            timeout=left,
            memory_limit_mb=memory_limit_mb,
            artifacts=artifacts,
            gpu=gpus[slot % len(gpus)] if len(gpus) > 1 else None,
        )

    processes = [start(slot) for slot in range(workers)]
    errors: list[str] = []
    relays = [_relay(proc, errors) for proc in processes]
    with progress_bar(study, config.trials, show=show) as bar, supervise(processes):
        while True:
            for i, proc in enumerate(processes):
                done = count_finished(study) >= config.trials or (deadline is not None and time.monotonic() > deadline)
                if proc.poll() == RESTART_EXIT_STATUS and not done:
                    processes[i] = start(i)
                    relays.append(_relay(processes[i], errors))
            if bar is not None:
                bar(study, None)
            if all(p.poll() is not None for p in processes):
                break
            time.sleep(_POLL_S)
    for relay in relays:
        relay.join(timeout=10)
    failed = [p.returncode for p in processes if p.returncode not in (0, RESTART_EXIT_STATUS)]
    if failed:
        last = f": {errors[-1].removeprefix('error: ')}" if errors else "; see above"
        raise RunError(f"{len(failed)} of {workers} workers failed (exit status {failed[0]}){last}")


def _relay(proc: subprocess.Popen[bytes], errors: list[str]) -> threading.Thread:
    """Copy a worker's stderr above the progress bar (``tqdm.write``: in a notebook, into the cell's output).

    Its ``error:`` lines are also kept, for the message of a failed run.
    """
    from tqdm.auto import tqdm

    def copy() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("error: "):
                errors.append(line)
            tqdm.write(line, file=sys.stderr)

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def spawn_worker(
    name: str,
    *,
    storage: str,
    slot: int = 0,
    n_slots: int = 1,
    backend: str = "",
    timeout: float | None = None,
    memory_limit_mb: float | None = None,
    allow_modules: Sequence[str] = (),
    artifacts: str | None = None,
    gpu: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start one worker process on this machine: :func:`join_study` in a fresh interpreter.

    With several workers on a machine with at least as many cores, worker
    ``slot`` of ``n_slots`` is pinned to its own share of the cores: a small
    model gains little from a second core, so two one-core workers train about
    more trials than one two-core worker (docs/benchmarks.md), and pinned workers do
    not preempt each other's threads. ``gpu``: the one GPU (``nvidia-smi``'s
    index) the worker sees.
    """
    spec = {
        "name": name,
        "storage": storage,
        "slot": slot,
        "timeout": timeout,
        "memory_limit_mb": memory_limit_mb,
        "cpus": worker_cores(slot, n_slots),
        "allow_modules": list(allow_modules),
        "artifacts": artifacts,
        "quiet": True,
        "parent": os.getpid(),  # it stops, keeping its trial for the next run, if this process dies
    }
    command = [sys.executable, "-m", "search.engine._process"]
    env = dict(os.environ, SEARCH_WORKER_SPEC=json.dumps(spec))  # the storage URL may hold a password: not in argv
    if backend:
        env["KERAS_BACKEND"] = backend
    if gpu is not None:
        env |= {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": str(gpu)}  # nvidia-smi's numbering
    # Nothing of theirs goes to stdout, which is the caller's; their stderr is the caller's to relay.
    return subprocess.Popen(command, cwd=Path.cwd(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def default_workers(backend: str = "", *, gpus: dict[int, float] | None = None) -> tuple[int, str]:
    """How many workers ``python -m search run`` starts on this machine, and why.

    ``SEARCH_WORKERS`` when set; otherwise, on a machine with NVIDIA GPUs that
    ``backend`` can train on (see :func:`usable_gpus`), one worker per 16 GiB of
    each GPU's memory (one to four per GPU: small models leave a GPU mostly
    idle, and JAX and TensorFlow are told to take GPU memory as they need it);
    otherwise one per core this process may use, each pinned to its core (see
    :func:`spawn_worker`). ``gpus``: what :func:`usable_gpus` found already (not asked again).

    Raises:
        search.InputError: ``SEARCH_WORKERS`` is not a positive integer.

    Examples:
        >>> n, why = default_workers()
        >>> n >= 1
        True
    """
    value = os.environ.get("SEARCH_WORKERS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise InputError(f"SEARCH_WORKERS must be a positive integer, got {value!r}")
        return int(value), "SEARCH_WORKERS"
    if gpus is None:
        gpus, _ = usable_gpus(backend)
    if gpus:
        per_gpu = [max(1, min(4, int(gib // _GPU_GIB_PER_WORKER))) for gib in gpus.values()]
        return sum(per_gpu), f"{'+'.join(map(str, per_gpu))} on {len(gpus)} GPU(s)"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores, f"one per core ({cores} core(s))"


def usable_gpus(backend: str = "") -> tuple[dict[int, float], str | None]:
    """The NVIDIA GPUs ``backend`` can train on (index: GiB of memory), and a warning when it can use none of many.

    ``nvidia-smi`` lists the GPUs (those of ``CUDA_VISIBLE_DEVICES``); the backend
    can use them when its CUDA build is installed: JAX's CUDA plugin, TensorFlow's
    CUDA libraries, a PyTorch built with CUDA. Nothing is imported: this costs
    one ``nvidia-smi`` call.

    Examples:
        >>> gpus, warning = usable_gpus("jax")
        >>> isinstance(gpus, dict)
        True
    """
    listed = _gpu_memory_gib()
    if not listed:
        return {}, None
    name = backend or os.environ.get("KERAS_BACKEND") or "jax"
    if _has_cuda_build(name):
        return listed, None
    shown = "a GPU" if len(listed) == 1 else f"{len(listed)} GPUs"
    return {}, (
        f"warning: nvidia-smi lists {shown} but Keras' {name} backend here is a CPU-only build:"
        " trials train on the CPU; pip install 'keras-optuna-search[cuda]' to train on the GPU"
    )


def _has_cuda_build(backend: str) -> bool:
    """Whether the installed build of ``backend`` can run on NVIDIA GPUs (read from the installed distributions)."""
    names = {(dist.metadata["Name"] or "").lower().replace("_", "-") for dist in importlib.metadata.distributions()}
    if backend == "jax":
        return any(n.startswith(("jax-cuda", "jaxlib-cuda")) for n in names)
    if backend == "tensorflow":
        return any(n.startswith("nvidia-cudnn-cu") for n in names) or ctypes.util.find_library("cudnn") is not None
    if backend == "torch":
        try:
            return "+cpu" not in importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            return False
    return False


def device_line(workers: int | str, gpus: dict[int, float]) -> str:
    """Where ``workers`` workers (or what ``workers`` names) train: ``"2 workers on CPU"``, ``"1 worker on GPU 0"``.

    Examples:
        >>> device_line(2, {}), device_line(1, {0: 80.0}), device_line(4, {0: 80.0, 1: 80.0})
        ('2 workers on CPU', '1 worker on GPU 0', '4 workers on GPUs 0, 1')
        >>> device_line("the holdout trains", {})
        'the holdout trains on CPU'
    """
    counted = workers if isinstance(workers, str) else f"{workers} worker{'s' if workers != 1 else ''}"
    if not gpus:
        return f"{counted} on CPU"
    if len(gpus) == 1:
        return f"{counted} on GPU {next(iter(gpus))}"
    return f"{counted} on GPUs {', '.join(map(str, gpus))}"


def _gpu_memory_gib() -> dict[int, float]:
    """Memory (GiB) of each NVIDIA GPU that ``nvidia-smi`` lists, by index; none without the tool or a GPU."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return {}
    query = [tool, "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    sizes = {}
    for line in out.splitlines():  # "0, 81559"; a GPU whose memory reads "[N/A]" is left out, its index kept
        index, _, memory = (part.strip() for part in line.partition(","))
        if index.isdigit() and memory.replace(".", "", 1).isdigit():
            sizes[int(index)] = float(memory) / 1024
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:  # the GPUs this process may use
        wanted = [int(i) for i in visible.split(",") if i.strip().isdigit()]
        sizes = {i: sizes[i] for i in wanted if i in sizes}
    return sizes


def worker_cores(slot: int, n_slots: int) -> list[int]:
    """The cores of worker ``slot`` of ``n_slots``: an even share, or ``[]`` (no pinning).

    Examples:
        >>> worker_cores(0, 1)
        []
    """
    if n_slots < 2 or not hasattr(os, "sched_getaffinity"):
        return []
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < n_slots:
        return []
    share = len(cores) // n_slots
    return cores[slot * share : (slot + 1) * share]


def pin_cores(cores: Sequence[int]) -> None:
    """Restrict this process, and the threads it starts later, to ``cores``.

    Raises:
        search.InputError: Not cores of this machine.

    Examples:
        >>> pin_cores(sorted(os.sched_getaffinity(0)))
    """
    try:
        os.sched_setaffinity(0, set(cores))
    except (ValueError, OSError, AttributeError) as exc:
        raise InputError(f"cannot run on cores {list(cores)}: not cores of this machine ({exc})") from None


@contextlib.contextmanager
def supervise(processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """On leaving (Ctrl-C included), interrupt the workers and wait for them."""
    try:
        yield
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in processes:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
