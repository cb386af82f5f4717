"""Helpers shared by the test modules: the command line as a subprocess, database dumps."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

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


def sqlite_rows(path: Path) -> list[str]:
    """Every row of every table of a SQLite file, as SQL text (for row-for-row comparisons)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.iterdump())
