"""Lock errors of parallel Optuna workers on one SQLite file: Optuna's defaults vs this project's storage.

Each worker process runs trials of a trivial objective (no training) as fast as
it can, so the database sees far more concurrent writes than real trials make.

Usage: ``python benchmarks/sqlite_locks.py [--workers 8] [--trials 40]``; prints a table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path


def _worker(mode: str, url: str, trials: int, queue: mp.Queue) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if mode == "optuna default":
        storage: object = url
    else:
        from search.engine._storage import open_storage

        storage = open_storage(url)
    errors = 0
    done = 0
    study = optuna.load_study(study_name="locks", storage=storage)
    while done < trials:
        try:
            study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=1)
            done += 1
        except Exception as exc:  # what a user's worker would die of
            errors += "locked" in str(exc)
            done += 1
    queue.put(errors)


def run(mode: str, workers: int, trials: int) -> tuple[int, int, float]:
    import optuna

    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'locks.db'}"
    if mode == "optuna default":
        optuna.create_study(study_name="locks", storage=url)
    else:
        from search.engine._storage import open_storage

        optuna.create_study(study_name="locks", storage=open_storage(url))
    queue: mp.Queue = mp.Queue()
    start = time.perf_counter()
    procs = [mp.Process(target=_worker, args=(mode, url, trials, queue)) for _ in range(workers)]
    for p in procs:
        p.start()
    errors = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    finished = len(
        optuna.load_study(study_name="locks", storage=url).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    )
    return errors, finished, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--trials", type=int, default=40, help="trials per worker")
    args = parser.parse_args()
    print(f"{args.workers} workers x {args.trials} trivial trials on one SQLite file")
    print(f"{'storage':<36}{'lock errors':>12}{'complete':>10}{'seconds':>9}")
    for mode in ("optuna default", "search (WAL + 120 s busy timeout)"):
        errors, finished, elapsed = run(mode, args.workers, args.trials)
        print(f"{mode:<36}{errors:>12}{finished:>10}{elapsed:>9.1f}")


if __name__ == "__main__":
    main()
