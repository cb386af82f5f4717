"""Helpers shared by the test modules: the command line as a subprocess, database dumps."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search import Task
from search.data import Dataset

REPO = Path(__file__).resolve().parents[1]
# Headless Chromium as root on a machine without a network (background requests would fail by the dozen).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# One set of spaces.mlp parameters for FixedTrial and enqueue_trial (tests override what they vary).
MLP_PARAMS = {
    "depth": 3,
    "units": 64,
    "taper": 0.5,
    "input_dropout": 0.1,
    "dropout": 0.2,
    "l1_on": False,
    "l2_on": True,
    "l2": 1e-4,
    "batch_size": 128,
    "learning_rate": 1e-3,
}


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m search ARGS`` as a user would; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


@dataclasses.dataclass(frozen=True)
class Ran:
    """What a command left: its exit status and what it wrote to stdout and stderr (file descriptors 1 and 2)."""

    returncode: int
    stdout: str
    stderr: str


def fixture_env(folder: Path, cache: Path) -> dict[str, str]:
    """The home, cache and worker count of a test (the autouse ``isolated_env``), for a fixture wider than one test."""
    return {"SEARCH_HOME": str(folder / "home"), "SEARCH_CACHE_DIR": str(cache), "SEARCH_WORKERS": "1"}


def cli_here(
    capfd: pytest.CaptureFixture[str] | None,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Ran:
    """``python -m search ARGS`` run in this process through the command line's entry function, as a user sees it.

    Output is captured at the file descriptors (Python's and C libraries' alike) with
    ``capfd``; without it (a fixture wider than one test), Python's ``sys.stdout`` and
    ``sys.stderr`` are. ``env`` and ``cwd`` hold for the call only; the environment is
    restored whole afterwards (a command may set ``KERAS_BACKEND`` for the process it thinks it owns).
    """
    from search.cli import main

    saved, here = dict(os.environ), Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    if capfd is not None:
        capfd.readouterr()  # what came before is not this command's
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.ExitStack() as redirected:
            if capfd is None:
                redirected.enter_context(contextlib.redirect_stdout(out))
                redirected.enter_context(contextlib.redirect_stderr(err))
            try:
                code = main(list(args))
            except SystemExit as exc:  # --help
                code = int(exc.code or 0)
        if capfd is not None:
            return Ran(code, *capfd.readouterr())
        return Ran(code, out.getvalue(), err.getvalue())
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def binary_dataset(x_train: Any, y_train: np.ndarray, x_test: Any, y_test: np.ndarray, **extra: Any) -> Dataset:
    """A binary-task :class:`search.data.Dataset` of these rows, with ids ``train/N`` and ``test/N``."""
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        task=Task("binary"),
        train_ids=[f"train/{i}" for i in range(len(y_train))],
        test_ids=[f"test/{i}" for i in range(len(y_test))],
        **extra,
    )


def sqlite_rows(path: Path) -> list[str]:
    """Every row of every table of a SQLite file, as SQL text (for row-for-row comparisons)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.iterdump())


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program (Debian's ``/usr/lib/postgresql/N/bin``, the newest), or ``None``."""
    import glob
    import shutil

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A throw-away PostgreSQL cluster on loopback, in ``root``, with one database ``search``.

    Made with ``initdb`` and run with ``pg_ctl`` (as the ``postgres`` user when this is
    root: the server refuses to run as root). ``restart``/``stop``/``start`` act on
    this cluster only.
    """

    def __init__(self, root: Path) -> None:
        import shutil
        import socket

        initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("PostgreSQL server not installed (apt-get install postgresql)")
        self.root, self.pg_ctl = root, pg_ctl
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.data = root / "data"
        subprocess.run(
            [*self.run_as, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
        )
        self.options = f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/search"

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.data), *args], check=check, capture_output=True, timeout=120
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._ctl("-o", self.options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions and close every connection)."""
        self._ctl("-m", mode, "-w", "stop", check=mode != "immediate")

    def create_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE search")
        conn.close()
