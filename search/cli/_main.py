"""Command line: ``python -m search {run,worker,proxy,holdout,list,report,dashboard,embeddings} ...``."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from search.engine import (
    closes_storages,
    join_study,
    open_storage,
    run_study,
    shared_store,
    shown_url,
    stop_on_signals,
)
from search.errors import InputError, MemoryLimitReached, SearchError
from search.models import export_text_embedding, load_text_module, pretrain_text_embedding, use_backend
from search.results import (
    evaluate_holdout,
    format_headline,
    format_holdout,
    format_value,
    list_studies,
    study_summary,
    write_report,
)

__all__ = ["main"]


def _parse_set(items: list[str]) -> dict[str, Any]:
    """``["data.vocab_size=20000", "trials=5"]`` -> nested overrides (values read as TOML)."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        *tables, leaf = key.split(".")
        target = overrides
        for table in tables:
            target = target.setdefault(table, {})
        target[leaf] = value
    return overrides


def _run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set`` overrides plus the CSV flags: ``--path``, ``--target``, ``--task`` and ``--study``.

    The flags become ``data.path`` (absolute, so later commands run from anywhere),
    ``data.target`` and ``data.task``; ``--task`` also picks the metric and
    direction (``val_accuracy``/maximize or ``val_rmse``/minimize) unless ``--set``
    names them. ``--study`` names the study; a ``--path`` run of the ``csv``
    template is named ``csv-<file stem>`` by default.
    """
    overrides = _parse_set(args.set)
    data: dict[str, Any] = {}
    if args.path is not None:
        data["path"] = str(Path(args.path).expanduser().resolve())
    if args.target is not None:
        data["target"] = args.target
    if args.task is not None:
        data["task"] = args.task
        metric, direction = ("val_rmse", "minimize") if args.task == "regression" else ("val_accuracy", "maximize")
        overrides.setdefault("metric", metric)
        overrides.setdefault("direction", direction)
    if data:
        overrides["data"] = {**overrides.get("data", {}), **data}
    if args.study_name is not None:
        if not args.study_name.strip():
            raise InputError("--study needs a non-empty name")
        overrides["name"] = args.study_name
    elif args.path is not None and args.study == "csv":
        overrides.setdefault("name", f"csv-{Path(args.path).stem}")
    return overrides


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=None, default=str))


def _cmd_run(args: argparse.Namespace) -> int:
    shown = shown_url(args.storage)
    try:
        with stop_on_signals():
            study = run_study(
                args.study,
                n_trials=args.trials,
                timeout=args.timeout,
                storage=args.storage,
                allow_changes=args.allow_changes,
                show_progress=not args.no_progress,
                overrides=_run_overrides(args),
                workers=args.workers,
                memory_limit_mb=args.memory_limit,
                artifacts=args.artifacts,
                verbose=args.verbose,
            )
    except KeyboardInterrupt as exc:
        print(
            f"\ninterrupted: finished trials are saved in {shown}; run the same command to resume",
            file=sys.stderr,
        )
        return _interrupted_status(exc)
    summary = study_summary(study)
    summary["storage"] = shown
    if args.json:
        _print_json(summary)
    else:
        print(
            f"study {summary['study']}: {summary['n_finished']} finished trials "
            f"({summary['n_complete']} complete, {summary['n_pruned']} pruned, {summary['n_failed']} failed)"
        )
        if summary.get("n_infeasible"):
            print(f"{summary['n_infeasible']} complete trials break a constraint (never chosen as best)")
        if "pareto_front" in summary:
            print(_front_table(summary))
        elif summary["best_trial"] is not None:
            metric = summary.get("metric") or "value"
            best = f"best {metric} {summary['best_value']:.4f} (trial {summary['best_trial']}"
            folds = summary.get("best_folds") or []
            if folds:
                best += f", mean of {len(folds)} folds from {min(folds):.4f} to {max(folds):.4f}"
            print(f"{best}, best epoch {summary['best_epoch']})")
            print(f"best config {json.dumps(summary['best_config'])}")
        for group, best in summary.get("best_by_group", {}).items():
            print(f"best with {group}: {best['value']:.4f} (trial {best['trial']})")
        if "compilation" in summary:
            print(_compilation_line(summary["compilation"]))
        chosen = " [--trial N]" if "pareto_front" in summary else ""
        print(
            f"next: python -m search holdout {summary['study']}{chosen}"
            + (f" --storage {shown}" if args.storage else "")
        )
    return 0


def _compilation_line(compilation: dict[str, Any]) -> str:
    """What the study's trials spent compiling, and what the persistent compilation cache saved them.

    Examples:
        >>> print(_compilation_line({"trials": 30, "seconds_training": 81.5, "seconds_compiling": 40.2,
        ...                          "cache_hits": 52, "cache_misses": 8}))
        compiling 40.2 s, training 81.5 s over 30 trials; compilation cache: 52 hits, 8 misses
    """
    return (
        f"compiling {compilation['seconds_compiling']:.1f} s, training {compilation['seconds_training']:.1f} s"
        f" over {compilation['trials']} trials; compilation cache: {compilation['cache_hits']} hits,"
        f" {compilation['cache_misses']} misses"
    )


def _front_table(summary: dict[str, Any], *, indent: str = "") -> str:
    """The Pareto front of a multi-objective study summary as a table, with the holdouts of the trials evaluated.

    Examples:
        >>> print(_front_table({"objectives": ["val_accuracy", "params"], "pareto_front": [
        ...     {"trial": 3, "values": {"val_accuracy": 0.89, "params": 160033.0}, "holdout": None},
        ...     {"trial": 0, "values": {"val_accuracy": 0.88, "params": 10001.0},
        ...      "holdout": {"metric": "accuracy", "value": 0.8812}}]}))
        Pareto front (2 trials)
           trial  val_accuracy        params  holdout
               3        0.8900       160,033  -
               0        0.8800        10,001  accuracy 0.8812
    """
    names = summary["objectives"]
    front = summary["pareto_front"]
    lines = [f"{indent}Pareto front ({len(front)} trial{'s' if len(front) != 1 else ''})"]
    widths = [max(12, len(n)) for n in names]
    header = "".join(f"  {n:>{w}}" for n, w in zip(names, widths, strict=True))
    lines.append(f"{indent}   trial{header}  holdout")
    for row in front:
        cells = "".join(f"  {format_value(row['values'].get(n)):>{w}}" for n, w in zip(names, widths, strict=True))
        shown = format_headline(row.get("holdout"))
        lines.append(f"{indent}{row['trial']:>8}{cells}  {shown}")
    return "\n".join(lines)


def _cmd_worker(args: argparse.Namespace) -> int:
    cpus = _cores(args.cpus) if args.cpus else None
    try:
        with stop_on_signals():
            study = join_study(
                args.study,
                storage=args.storage,
                n_trials=args.trials,
                timeout=args.timeout,
                show_progress=not args.no_progress,
                memory_limit_mb=None if args.memory_limit == 0 else args.memory_limit,
                slot=args.slot,
                cpus=cpus,
                allow_modules=args.allow_module,
                artifacts=args.artifacts,
                verbose=args.verbose,
            )
    except MemoryLimitReached as exc:
        print(f"worker stops to free memory ({exc}); its trials are saved", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt as exc:
        print("\nworker interrupted: its finished trials are saved; the interrupted one is re-queued", file=sys.stderr)
        return _interrupted_status(exc)
    summary = study_summary(study)
    if args.json:
        _print_json(summary)
    else:
        print(f"study {summary['study']}: {summary['n_finished']} finished trials")
    return 0


def _interrupted_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal that stopped the run: 130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def _cores(spec: str) -> list[int]:
    """``"0,1"`` -> ``[0, 1]``: the cores that ``--cpus`` lists."""
    try:
        return sorted({int(c) for c in spec.split(",")})
    except ValueError as exc:
        raise InputError(f"--cpus {spec!r}: not a comma-separated list of this machine's cores ({exc})") from None


def _cmd_holdout(args: argparse.Namespace) -> int:
    result = evaluate_holdout(
        args.study,
        storage=args.storage,
        trial=args.trial,
        repeats=args.repeats,
        ensemble=args.ensemble,
        force=args.force,
        show_progress=not args.json,
        allow_modules=args.allow_module,
    )
    if args.json:
        _print_json(result)
    else:
        print(format_holdout(args.study, result))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    studies = list_studies(args.storage)
    if args.json:
        _print_json({"storage": shown_url(args.storage), "studies": studies})
        return 0
    print(f"studies in {shown_url(args.storage)}")
    for s in studies:
        best = "-" if s["best_value"] is None else f"{s['best_value']:.4f}"
        metric = s.get("metric") or "value"
        holdout = format_headline(s["holdout"])
        print(
            f"  {s['study']:<20} finished {s['n_finished']:>4}  failed {s['n_failed']:>3}  "
            f"best {metric} {best}  holdout {holdout}"
        )
        for group, value in s.get("best_by_group", {}).items():
            print(f"  {'':<20} best with {group} {value['value']:.4f} (trial {value['trial']})")
        if s.get("pareto_front"):
            print(_front_table(s, indent="    "))
        for k, held in s.get("ensembles", {}).items():
            print(f"  {'':<20} ensemble of {k}: {format_headline(held)}")
        shown_already = {row["trial"] for row in s.get("pareto_front") or []} | {s.get("best_trial")}
        chosen = {n: h for n, h in s.get("holdouts", {}).items() if int(n) not in shown_already}
        if chosen:
            shown = ", ".join(f"trial {n} {format_headline(h)}" for n, h in chosen.items())
            print(f"  {'':<20} holdouts of chosen trials: {shown}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    path = write_report(args.study, storage=args.storage, out=args.out)
    print(path)
    return 0


def _check_port(host: str, port: int) -> None:
    """Fail with one line, before anything is printed, if ``host:port`` cannot be served.

    Examples:
        >>> _check_port("127.0.0.1", 70000)
        Traceback (most recent call last):
        ...
        search.errors.InputError: port 70000 is out of range (1-65535)
    """
    import socket

    if not 0 < port < 65536:
        raise InputError(f"port {port} is out of range (1-65535)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            probe.bind(address)
    except OSError as exc:  # port in use, host not an address of this machine, ...
        raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def _cmd_dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    _check_port(args.host, args.port)
    storage = open_storage(args.storage, must_exist=True)
    store = shared_store(storage, args.storage, args.artifacts)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"optuna-dashboard for {shown_url(args.storage)} (artifacts in {shown_url(store.location)})", file=sys.stderr)
    print(f"open http://{host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            optuna_dashboard.run_server(storage, host=args.host, port=args.port, artifact_store=store)
    except OSError as exc:  # the port was taken in between
        raise InputError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def _cmd_proxy(args: argparse.Namespace) -> int:
    import concurrent.futures

    import optuna

    if args.storage and args.storage.startswith("grpc://"):
        raise InputError(f"--storage {shown_url(args.storage)} is itself a proxy: give the database URL")
    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, got {args.threads}")
    _check_port(args.host, args.port)
    database = open_storage(args.storage, allow_proxy=False)
    storage = optuna.storages.get_storage(database)  # Optuna's cache in front of the database
    shown = "0.0.0.0" if args.host in ("", "0.0.0.0") else args.host
    print(f"storage proxy for {shown_url(args.storage)} on {shown}:{args.port}", file=sys.stderr)
    print(f"workers join with --storage grpc://{shown}:{args.port} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.threads)
    with contextlib.suppress(KeyboardInterrupt), stop_on_signals(), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.run_grpc_proxy_server(storage, host=args.host, port=args.port, thread_pool=pool)
    return 0


def _cmd_embeddings_pretrain(args: argparse.Namespace) -> int:
    path = pretrain_text_embedding(
        args.out,
        dim=args.dim,
        vocab_size=args.vocab_size,
        window=args.window,
        num_oov_buckets=args.oov_buckets,
        limit=args.limit,
    )
    return _print_module(str(path), args.json)


def _cmd_embeddings_export(args: argparse.Namespace) -> int:
    path = export_text_embedding(args.vectors, None, args.out, num_oov_buckets=args.oov_buckets)
    return _print_module(str(path), args.json)


def _cmd_embeddings_show(args: argparse.Namespace) -> int:
    return _print_module(args.handle, args.json)


def _print_module(handle: str, as_json: bool) -> int:
    use_backend()
    info = load_text_module(handle)
    summary = {
        "handle": handle,
        "path": str(info.path),
        "output_dim": info.output_dim,
        "structure": "standard (trainable)" if info.native else "other (frozen only)",
        "vocabulary_size": len(info.tokens) if info.tokens is not None else None,
        "num_oov_buckets": info.num_oov_buckets if info.native else None,
    }
    if as_json:
        _print_json(summary)
    else:
        for key, value in summary.items():
            print(f"{key:<16}{value}")
    return 0


def _embeddings_parser(sub: Any) -> None:
    embeddings = sub.add_parser("embeddings", help="pretrain, export or inspect TF-Hub text-embedding modules")
    commands = embeddings.add_subparsers(dest="embeddings_command", required=True)

    pretrain = commands.add_parser(
        "pretrain", help="word vectors from the 50,000 unlabeled IMDB reviews (PPMI + SVD) as a TF-Hub module"
    )
    pretrain.add_argument("--dim", type=int, default=50, help="embedding size (default 50)")
    pretrain.add_argument("--vocab-size", type=int, default=20000, help="most frequent tokens kept (default 20000)")
    pretrain.add_argument("--window", type=int, default=5, help="co-occurrence window on each side (default 5)")
    pretrain.add_argument("--oov-buckets", type=int, default=1000, help="out-of-vocabulary rows (default 1000)")
    pretrain.add_argument("--limit", type=int, metavar="N", help="use only the first N unlabeled reviews")
    pretrain.add_argument(
        "--out", metavar="DIR", help="module folder (default: the cache, as search:imdb-unsup-<dim>dim)"
    )
    pretrain.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    pretrain.set_defaults(func=_cmd_embeddings_pretrain)

    export = commands.add_parser("export", help="a TF-Hub text-embedding module from word vectors (word v1 v2 ...)")
    export.add_argument("--vectors", required=True, metavar="FILE", help="word2vec/GloVe text-format vectors")
    export.add_argument("--out", required=True, metavar="DIR", help="module folder to create")
    export.add_argument("--oov-buckets", type=int, default=1000, help="out-of-vocabulary rows (default 1000)")
    export.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    export.set_defaults(func=_cmd_embeddings_export)

    show = commands.add_parser("show", help="load a handle and describe the module")
    show.add_argument("handle", help="TF-Hub URL, SavedModel folder or search:imdb-unsup-<dim>dim")
    show.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    show.set_defaults(func=_cmd_embeddings_show)


class _Parser(argparse.ArgumentParser):
    """argparse, whose errors are this tool's: one ``error:`` line and exit status 2, no usage block."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m search",
        description="Hyperparameter search for Keras models on Optuna.",
        epilog="Environment: SEARCH_DATA_DIR (data folder), SEARCH_CACHE_DIR (vectorized-data cache), "
        "SEARCH_STORAGE (default storage URL), SEARCH_HOME (default database and models folder).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def storage_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--storage", metavar="URL", help="Optuna storage URL (default: SEARCH_STORAGE or a SQLite file)")

    def artifacts_option(p: argparse.ArgumentParser, text: str) -> None:
        p.add_argument("--artifacts", metavar="URL", help=text)

    def verbose_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--verbose", action="store_true", help="show Optuna's INFO lines and TensorFlow's start-up lines too"
        )

    def allow_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--allow-module",
            action="append",
            default=[],
            metavar="NAME",
            help="import this space module of the stored definition (repeatable; 'pickled': the study's pickled "
            "build function and data); see the trust model in the docs",
        )

    run = sub.add_parser("run", help="run or resume a study until its trial budget is reached")
    run.add_argument("study", help="study name (see studies/) or path to a study .toml")
    run.add_argument("--trials", type=int, metavar="N", help="total finished trials of the study")
    run.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    storage_option(run)
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a definition field, e.g. data.vocab_size=20000 (repeatable)",
    )
    csv = run.add_argument_group("CSV files (the csv study)", "python -m search run csv --path FILE --target COLUMN")
    csv.add_argument("--path", metavar="FILE", help="the CSV file (data.path)")
    csv.add_argument("--target", metavar="COLUMN", help="the column to predict (data.target)")
    csv.add_argument(
        "--task", choices=("classification", "regression"), help="data.task, with its metric and direction"
    )
    csv.add_argument("--study", dest="study_name", metavar="NAME", help="study name (default: csv-<file stem>)")
    run.add_argument("--allow-changes", action="store_true", help="resume although the definition or space changed")
    run.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes on this machine (default: one per core, or per GPU memory; SEARCH_WORKERS)",
    )
    run.add_argument(
        "--memory-limit",
        type=float,
        metavar="MB",
        help="run trials in worker processes, each restarted once its memory grew by MB since its first trial",
    )
    artifacts_option(
        run,
        "where the study keeps checkpoints, models and reports: a folder every machine reaches or s3://bucket/prefix; "
        "stored on a new study (default: SEARCH_ARTIFACTS, else beside a SQLite file)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    verbose_option(run)
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.set_defaults(func=_cmd_run)

    worker = sub.add_parser("worker", help="join a running study as one more worker (e.g. from another machine)")
    worker.add_argument("study", help="name of a study that exists in the storage")
    worker.add_argument("--storage", metavar="URL", required=True, help="the study's storage URL")
    worker.add_argument("--trials", type=int, metavar="N", help="new total budget of the study")
    worker.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    worker.add_argument(
        "--memory-limit",
        type=float,
        default=0,
        metavar="MB",
        help="exit with status 75 once memory grew by MB since the first trial (0: never)",
    )
    worker.add_argument(
        "--cpus", metavar="LIST", help="run on these cores only, e.g. 0,1 (run --workers pins its workers)"
    )
    worker.add_argument(
        "--slot", type=int, metavar="K", help="worker number K among those started together (offsets the sampler seed)"
    )
    allow_option(worker)
    artifacts_option(worker, "the study's artifact store as this machine reaches it (default: the one it keeps)")
    worker.add_argument("--no-progress", action="store_true", help="no progress bar")
    verbose_option(worker)
    worker.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    worker.set_defaults(func=_cmd_worker)

    holdout = sub.add_parser("holdout", help="retrain the best configuration and evaluate it once on the test split")
    holdout.add_argument("study")
    storage_option(holdout)
    holdout.add_argument(
        "--trial",
        type=int,
        metavar="N",
        help="evaluate this complete trial (e.g. a smaller one of the Pareto front) instead of the best one",
    )
    holdout.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="R",
        help="retrain and test R times with distinct seeds: mean and standard deviation of every metric",
    )
    holdout.add_argument(
        "--ensemble",
        type=int,
        default=1,
        metavar="K",
        help="retrain the K best distinct configurations and test the average of their predictions (one .keras)",
    )
    holdout.add_argument("--force", action="store_true", help="recompute even if a stored result exists")
    allow_option(holdout)
    holdout.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    holdout.set_defaults(func=_cmd_holdout)

    listing = sub.add_parser("list", help="list the studies in a storage")
    storage_option(listing)
    listing.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    listing.set_defaults(func=_cmd_list)

    report = sub.add_parser("report", help="write a self-contained HTML report of a study")
    report.add_argument("study")
    storage_option(report)
    report.add_argument(
        "--out", metavar="DIR", help="folder of the report, or a .html path (default: beside the study's artifacts)"
    )
    report.set_defaults(func=_cmd_report)

    dashboard = sub.add_parser("dashboard", help="start optuna-dashboard on the study database and its artifacts")
    storage_option(dashboard)
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    artifacts_option(dashboard, "the artifact store to serve (default: the one the studies keep)")
    dashboard.set_defaults(func=_cmd_dashboard)

    proxy = sub.add_parser("proxy", help="serve a study database to many workers through Optuna's gRPC storage proxy")
    proxy.add_argument("--storage", metavar="URL", required=True, help="the database URL (e.g. postgresql://...)")
    proxy.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0, every interface)")
    proxy.add_argument("--port", type=int, default=13000, help="port to listen on (default: 13000)")
    proxy.add_argument("--threads", type=int, default=16, help="requests served at once (default: 16)")
    proxy.set_defaults(func=_cmd_proxy)
    _embeddings_parser(sub)
    return parser


@closes_storages  # SQLite folds its -wal file into the database and removes it and the -shm file
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Examples:
        >>> import tempfile
        >>> import optuna
        >>> url = f"sqlite:///{tempfile.mkdtemp()}/studies.db"
        >>> _ = optuna.create_study(study_name="demo", storage=url)
        >>> main(["list", "--storage", url])
        studies in sqlite:///.../studies.db
          demo                 finished    0  failed   0  best value -  holdout -
        0
        >>> main(["list", "--storage", "sqlite:////no/such/studies.db"])  # the error goes to stderr
        2
    """
    try:
        args = _parser().parse_args(argv)
        return int(args.func(args))
    except SearchError as exc:
        print("error: " + _scrubbed(" ".join(str(exc).split()), argv), file=sys.stderr)  # always one line
        return 2 if isinstance(exc, InputError) else 1


def _scrubbed(line: str, argv: Sequence[str] | None) -> str:
    """``line`` without the secrets of any URL the command was given (a last guard: messages redact URLs themselves).

    Examples:
        >>> _scrubbed("cannot reach postgresql://ann:pw1@db/x", ["list", "--storage", "postgresql://ann:pw1@db/x"])
        'cannot reach postgresql://ann:***@db/x'
    """
    import os

    given = [*(argv if argv is not None else sys.argv[1:]), os.environ.get("SEARCH_STORAGE", "")]
    given.append(os.environ.get("SEARCH_ARTIFACTS", ""))
    for value in given:
        if "@" in value or "?" in value:
            line = line.replace(value, shown_url(value))
    return line
