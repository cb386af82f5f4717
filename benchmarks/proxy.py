"""The gRPC storage proxy's cost per trial, against workers connected to PostgreSQL directly.

Two measurements, each on the same PostgreSQL server (a throw-away one on loopback
unless ``--storage`` names one), direct and through ``python -m search proxy``:

- **storage calls of a trial**: N client processes, each running ``--trials`` trials
  that make the storage calls a trial of this framework makes (ask, 8 parameters,
  the worker and config attributes, then per epoch a report and the history and
  epoch-count attributes, ``--epochs`` epochs, then tell), no training; the table
  shows milliseconds per trial per client;
- **a real study**: ``python -m search run`` of a small synthetic study with
  ``--workers W`` (real Keras trials), seconds per trial.

Usage::

    python benchmarks/proxy.py [--clients 1,8] [--trials 50] [--epochs 10] [--study-trials 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _client(url: str, name: str, trials: int, epochs: int, out: multiprocessing.Queue) -> None:
    """Trials with a framework trial's storage calls and no training; puts seconds per trial."""
    import optuna

    from search.engine import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    start = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        params = {f"p{i}": trial.suggest_float(f"p{i}", 0.0, 1.0) for i in range(8)}
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid(), "started": 0.0})
        trial.set_user_attr("config", params)
        history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
        for epoch in range(epochs):
            history["loss"].append(1.0 / (epoch + 1))
            history["val_accuracy"].append(0.5 + epoch / (2 * epochs))
            trial.report(history["val_accuracy"][-1], epoch)
            trial.set_user_attr("history", history)
            trial.set_user_attr("epochs_trained", epoch + 1)
        study.tell(trial, history["val_accuracy"][-1])
    out.put((time.perf_counter() - start) / trials)


def storage_calls(url: str, clients: int, trials: int, epochs: int) -> float:
    """Mean milliseconds per trial per client, ``clients`` processes at once."""
    import optuna

    from search.engine import open_storage

    name = f"calls-{clients}-{time.time_ns()}"
    optuna.create_study(study_name=name, storage=open_storage(url), direction="maximize")
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    procs = [context.Process(target=_client, args=(url, name, trials, epochs, out)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    per_trial = [out.get(timeout=1800) for _ in procs]
    for proc in procs:
        proc.join()
    return 1000 * sum(per_trial) / len(per_trial)


def real_study(url: str, folder: Path, trials: int, workers: int) -> float:
    """Seconds per trial of ``python -m search run`` of a small synthetic study."""
    name = f"study-{time.time_ns()}"
    path = folder / f"{name}.toml"
    from tests.search.test_workers import TINY  # the tests' small synthetic study

    text = TINY.format(name=name, trials=trials, max_epochs=2, n_train=400, patience=2)
    path.write_text(textwrap.dedent(text.replace("seed = 3", 'seed = 3\nbackend = "jax"')))
    start = time.perf_counter()
    command = [sys.executable, "-m", "search", "run", str(path), "--storage", url, "--workers", str(workers)]
    result = subprocess.run([*command, "--no-progress"], capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return (time.perf_counter() - start) / trials


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", help="a PostgreSQL URL (default: a throw-away server on loopback)")
    parser.add_argument("--clients", default="1,8", help="comma-separated numbers of client processes")
    parser.add_argument("--trials", type=int, default=50, help="trials per client")
    parser.add_argument("--epochs", type=int, default=10, help="epochs reported per trial")
    parser.add_argument("--study-trials", type=int, default=40, help="trials of the real study (0: skip it)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the real study")
    parser.add_argument("--out", help="also write the results as JSON")
    args = parser.parse_args()

    server = None
    folder = Path(tempfile.mkdtemp(prefix="search-proxy-bench-"))
    url = args.storage
    if url is None:
        from tests._helpers import PostgresServer

        server = PostgresServer(Path(tempfile.mkdtemp(prefix="search-pg-")))  # its own folder: the server chowns it
        server.start()
        server.create_database()
        url = server.url
    from search.engine import open_storage

    open_storage(url)  # the tables, made here before the proxy and the clients open the database at once
    port = _free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "search", "proxy", "--storage", url, "--host", "127.0.0.1", "--port", str(port)],
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    grpc = f"grpc://127.0.0.1:{port}"
    rows: list[dict[str, object]] = []
    try:
        for clients in (int(c) for c in args.clients.split(",")):
            direct = storage_calls(url, clients, args.trials, args.epochs)
            proxied = storage_calls(grpc, clients, args.trials, args.epochs)
            rows.append({"what": f"storage calls, {clients} client(s)", "unit": "ms/trial", "direct": direct,
                         "proxy": proxied})  # fmt: skip
        if args.study_trials:
            direct = real_study(url, folder, args.study_trials, args.workers)
            proxied = real_study(grpc, folder, args.study_trials, args.workers)
            rows.append({"what": f"real study, {args.workers} workers", "unit": "s/trial", "direct": direct,
                         "proxy": proxied})  # fmt: skip
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(timeout=60)
        if server is not None:
            server.stop("immediate")
    print(f"{'measurement':<32} {'unit':>9} {'direct':>9} {'proxy':>9} {'proxy/direct':>13}")
    for row in rows:
        direct, proxied = float(row["direct"]), float(row["proxy"])  # type: ignore[arg-type]
        print(f"{row['what']:<32} {row['unit']:>9} {direct:>9.2f} {proxied:>9.2f} {proxied / direct:>13.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
