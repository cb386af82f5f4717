"""Test, lint and benchmark sessions: ``nox -s tests`` is what CI runs."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
PYTHON = "3.11"
# Bytecode compiled once at install: with PYTHONDONTWRITEBYTECODE set (as on the CI machines), every Python
# process the tests start would otherwise compile TensorFlow, Keras and Optuna from source again (an import of
# them: 17 s, against 7.5 s compiled).
COMPILED = {"UV_COMPILE_BYTECODE": "1"}
# The default test run compiles far more XLA programs than it runs steps of (small models, a few epochs each):
# without LLVM's backend optimization they compile faster, and the run used a fifth less CPU (docs/benchmarks.md).
# What the tests check is unchanged; what runs slower so is long training on sparse inputs (an imdb-bow epoch, 7x),
# so the slow tests and the benchmarks keep XLA's defaults, as users do (docs/benchmarks.md, "Test suite").
QUICK_XLA = {"XLA_FLAGS": f"--xla_backend_optimization_level=0 {os.environ.get('XLA_FLAGS', '')}".strip()}  # yours win


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The default test run (everything not marked slow), on every core: most tests wait on processes they start."""
    session.install("-e", ".[test]", env=COMPILED)
    # worksteal: an idle worker takes tests queued on the other, so no core idles behind one long test at the end.
    options = ["-m", "not slow", "--timeout=900", "-n", "auto", "--dist", "worksteal"]
    session.run("pytest", *options, *session.posargs, env=QUICK_XLA)


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """Long real runs (marked ``slow``)."""
    session.install("-e", ".[test]", env=COMPILED)
    session.run("pytest", "-m", "slow", "--timeout=3600", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format check), mypy and the layer contract (import-linter: stages import only downwards)."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs, API reference from the docstrings), warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site")


@nox.session(python=PYTHON)
def benchmark(session: nox.Session) -> None:
    """This framework against KerasTuner and a plain Optuna script: ``nox -s benchmark -- --budget 1800``."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/peers.py", *session.posargs)
