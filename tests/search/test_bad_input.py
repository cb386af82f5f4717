"""Every bad input: one ``error:`` line naming the problem, exit status 2, and nothing changed.

One parametrized suite over a table of cases. Each case runs the command line's
entry function in this process, as a user would type it (its working folder a
fresh one, its environment its own, its output read at the file descriptors),
and must end with:

- exit status 2 and exactly one line on stderr, starting with ``error:``, no traceback;
- the study database byte-for-byte as before (its SHA-256), and no ``-wal``/``-shm``
  file beside it that was not there before;
- no file created, changed or removed anywhere in the study's folder (database and
  artifacts), the case's own folder (working folder, ``SEARCH_HOME``, files the case
  prepared); only the shared data cache may gain entries.

A case is ``(arguments, message)``: ``arguments(ctx)`` prepares what it needs in
``ctx.scratch`` and returns the command line (``--storage`` of the shared study
database is added unless the case names its own, or ``ctx.no_storage`` is left in the
list); ``message`` must appear in the error line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from search.engine import _storage as storage_checks
from tests._helpers import cli, cli_here, fixture_env
from tests.search.test_workers import tiny_study

NO_STORAGE = "<no --storage>"


@dataclasses.dataclass(frozen=True)
class Context:
    """What a case can use: the populated study (name ``kept``), its database and a scratch folder."""

    study: Path  # the definition of the study ``kept`` (a synthetic one, 1 finished trial)
    db: Path
    scratch: Path  # the case's own folder; files made here before the run are part of the snapshot

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def edited(self, old: str, new: str) -> Path:
        """A copy of the study definition with ``old`` replaced by ``new``."""
        text = self.study.read_text()
        assert old in text, old
        path = self.scratch / "edited.toml"
        path.write_text(text.replace(old, new))
        return path

    def copy_db(self, name: str = "copy.db") -> Path:
        """A byte copy of the populated database in the scratch folder."""
        path = self.scratch / name
        path.write_bytes(self.db.read_bytes())
        return path


Case = tuple[Callable[[Context], list[str]], str]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> tuple[Path, Path]:
    """A study database with one finished study ``kept`` (with its artifacts), and its definition."""
    folder = tmp_path_factory.mktemp("bad-input")
    study = tiny_study(folder, "kept", trials=1)
    storage = f"sqlite:///{folder / 'studies.db'}"
    env = fixture_env(folder, shared_cache)
    result = cli_here(None, "run", str(study), "--storage", storage, "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    return folder / "studies.db", study


def _tree(root: Path) -> dict[str, str]:
    """Every file below ``root`` with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def one_line_error(result) -> str:
    """The single ``error:`` line of a command that must have refused its input."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    return lines[0]


# --- study names, the command line and its flags -------------------------------------------------
NAMES_AND_FLAGS: dict[str, Case] = {
    "unknown study": (lambda c: ["run", "no-such-study"], "unknown study 'no-such-study'"),
    "bad timeout": (lambda c: ["run", str(c.study), "--timeout", "-1"], "timeout must be a positive number"),
    "non-finite timeout": (lambda c: ["run", str(c.study), "--timeout", "nan"], "timeout must be a positive number"),
    "huge budget": (lambda c: ["run", str(c.study), "--trials", "100000000"], "trials must be at most 1,000,000"),
    "control character in the name": (
        lambda c: ["run", str(c.study), "--set", 'name="a\\u0007b"'],
        "holds a control character",
    ),
    "over-long name": (lambda c: ["run", str(c.study), "--study", "x" * 300], "at most 128 are allowed"),
    "worker for a missing study": (lambda c: ["worker", "ghost"], "no study 'ghost'"),
    # argparse's own errors: the same one line, exit status 2
    "trials that are not a number": (
        lambda c: ["run", str(c.study), "--trials", "abc"],
        "argument --trials: invalid int value: 'abc' (see python -m search run --help)",
    ),
    "unknown command": (lambda c: ["nope", NO_STORAGE], "argument command: invalid choice: 'nope'"),
    "worker without a storage": (
        lambda c: ["worker", "kept", NO_STORAGE],
        "the following arguments are required: --storage",
    ),
    "timeout of minus infinity": (lambda c: ["run", str(c.study), "--timeout", "-inf"], "argument --timeout"),
    "worker slot below 0": (lambda c: ["worker", "kept", "--slot", "-5"], "slot must be a worker number of 0 or more"),
    "empty storage URL": (lambda c: ["list", "--storage", ""], "the storage URL is empty"),
    "unknown SQLite URL option": (
        lambda c: ["list", "--storage", f"{c.url}?cache_size=10"],
        "unknown SQLite option(s) cache_size",
    ),
}

# --- study definitions: the schema, the space's bounds, resuming with another definition ---------
DEFINITIONS: dict[str, Case] = {
    # objectives and constraints (multi-objective studies)
    "objective that is no metric or property": (
        lambda c: ["run", str(c.study), "--set", 'objectives=[{name="size"}]'],
        "objective 'size' is neither a validation metric",
    ),
    "size to maximize": (
        lambda c: ["run", str(c.study), "--set", 'objectives=[{name="params", direction="maximize"}]'],
        "objective 'params' is a size or a latency: it can only be minimized",
    ),
    "metric objective without a direction": (
        lambda c: ["run", str(c.study), "--set", 'objectives=[{name="val_loss"}]'],
        "objective 'val_loss' needs a direction",
    ),
    "minimum on a size": (
        lambda c: ["run", str(c.study), "--set", "constraints={min_params=10}"],
        "min_params': params can only have a maximum",
    ),
    "misspelled key in an objective table": (
        lambda c: ["run", str(c.study), "--set", 'objectives=[{name="params", directon="minimize"}]'],
        "[objectives]: unknown key 'directon' (did you mean 'direction'?)",
    ),
    "objective that is the metric": (
        lambda c: ["run", str(c.study), "--set", 'objectives=[{name="val_accuracy", direction="maximize"}]'],
        "'objectives': 'val_accuracy' is already the metric (the first objective)",
    ),
    "objective metric the model does not log": (
        lambda c: [
            "run",
            str(c.study),
            "--set",
            "name=other",
            "--set",
            'objectives=[{name="val_acuracy", direction="maximize"}]',
        ],
        "objective 'val_acuracy' is not logged",
    ),
    "constraint on a metric the model does not log": (
        lambda c: ["run", str(c.study), "--set", "name=other", "--set", "constraints={min_val_acuracy=0.5}"],
        "constraint min_val_acuracy 'val_acuracy' is not logged",
    ),
    "constraint without max_ or min_": (
        lambda c: ["run", str(c.study), "--set", "constraints={params=10}"],
        "constraint 'params' must be max_<name> or min_<name>",
    ),
    "constraint that is not a number": (
        lambda c: ["run", str(c.study), "--set", 'constraints={max_params="10k"}'],
        "'constraints.max_params' must be a valid number, got '10k'",
    ),
    "objectives added to a single-objective study": (
        lambda c: ["run", str(c.study), "--set", 'objectives=[{name="params"}]'],
        "exists with direction maximize, not maximize and minimize",
    ),
    "unknown space": (
        lambda c: ["run", str(c.edited('module = "spaces.mlp"', 'module = "spaces.nope"'))],
        "unknown space module 'spaces.nope'",
    ),
    "space module that is a path": (
        lambda c: ["run", str(c.edited('module = "spaces.mlp"', 'module = "../x"'))],
        "space '../x' is not a module name or module:attribute reference",
    ),
    "sampler that never starts at random": (
        lambda c: ["run", str(c.study), "--set", "sampler.n_startup_trials=-5"],
        "'sampler.n_startup_trials' must be at least 0, got -5",
    ),
    "pruner whose percentile is no percentile": (
        lambda c: ["run", str(c.study), "--set", 'pruner={name="PercentilePruner", percentile=150.0}'],
        "'pruner.percentile' must be at most 100",
    ),
    "negative size limit": (
        lambda c: ["run", str(c.study), "--set", "constraints={max_params=-1}"],
        "constraint 'max_params' must be above 0 (params is never negative), got -1.0",
    ),
    "invalid bounds": (lambda c: ["run", str(c.study), "--set", "space.units=[64, 8]"], "space bound 'units'"),
    "unknown sampler": (lambda c: ["run", str(c.study), "--set", "sampler.name=Nope"], "unknown sampler 'Nope'"),
    "unknown pruner": (lambda c: ["run", str(c.study), "--set", "pruner.name=Nope"], "unknown pruner 'Nope'"),
    "other direction": (
        lambda c: ["run", str(c.edited('direction = "maximize"', 'direction = "minimize"'))],
        "exists with direction maximize, not minimize",
    ),
    "changed definition": (
        lambda c: ["run", str(c.study), "--set", "space.dropout=[0.0, 0.1]"],
        "different definition",
    ),
    "misspelled key": (lambda c: ["run", str(c.study), "--set", "max_epoch=3"], "did you mean 'max_epochs'?"),
    "unknown data setting": (lambda c: ["run", str(c.study), "--set", "data.colour=1"], "unknown [data] setting"),
    "invalid TOML": (
        lambda c: ["run", str(_write(c.scratch / "broken.toml", 'name = "x"\nmetric = \n'))],
        "invalid TOML",
    ),
    # the space's own limits, checked before anything is written
    "dropout range above 1": (
        lambda c: ["run", str(c.study), "--set", "space.dropout=[0.0, 1.5]"],
        "space bound 'dropout' must lie in [0, 1), got [0.0, 1.5]",
    ),
    "negative input dropout": (
        lambda c: ["run", str(c.study), "--set", "space.input_dropout=[-0.1, 0.2]"],
        "space bound 'input_dropout' must lie in [0, 1)",
    ),
    "taper of 0": (
        lambda c: ["run", str(c.study), "--set", "space.taper=[0.0, 0.5]"],
        "space bound 'taper' must lie in (0, 1]",
    ),
    "layers of 0 units": (
        lambda c: ["run", str(c.study), "--set", "space.units=[0, 8]"],
        "space bound 'units' must be at least 1, got [0, 8]",
    ),
    "learning rate from 0": (
        lambda c: ["run", str(c.study), "--set", "space.learning_rate=[0, 0.1]"],
        "space bound 'learning_rate' is log-scaled and must be positive",
    ),
    "batch size 0": (
        lambda c: ["run", str(c.study), "--set", "space.batch_size=[0]"],
        "space bound 'batch_size' must be at least 1, got [0]",
    ),
    "fractional batch size": (
        lambda c: ["run", str(c.study), "--set", "space.batch_size=[32.5]"],
        "space bound 'batch_size' must be whole numbers",
    ),
    # the schema of the definition
    "no trials": (lambda c: ["run", str(c.study), "--set", "trials=0"], "'trials' must be at least 1, got 0"),
    "negative max_epochs": (
        lambda c: ["run", str(c.study), "--set", "max_epochs=-1"],
        "'max_epochs' must be at least 1, got -1",
    ),
    "patience as a string": (
        lambda c: ["run", str(c.study), "--set", 'patience="3"'],
        "'patience' must be an integer, got '3'",
    ),
    "negative seed": (lambda c: ["run", str(c.study), "--set", "seed=-1"], "'seed' must be at least 0, got -1"),
    "seed beyond NumPy's": (
        lambda c: ["run", str(c.study), "--set", "seed=4294967296"],
        "'seed' must be at most 4,294,967,295",
    ),
    "nan in the space": (
        lambda c: ["run", str(c.study), "--set", "space.dropout=[0.0, nan]"],
        "'space.dropout.1' must be a finite number, got nan",
    ),
    "inf in the data": (
        lambda c: ["run", str(c.edited("n_test = 100", "n_test = inf"))],
        "'data.n_test' must be a finite number, got inf",
    ),
    "unknown direction": (
        lambda c: ["run", str(c.edited('direction = "maximize"', 'direction = "up"'))],
        "'direction' must be one of 'maximize' or 'minimize', got 'up'",
    ),
    "unknown backend": (
        lambda c: ["run", str(c.study), "--set", 'backend="torch"'],
        "'backend' must be one of '', 'tensorflow' or 'jax', got 'torch'",
    ),
    "no folds": (
        lambda c: ["run", str(c.study), "--set", "cv=0"],
        "'cv' must be at least 1, got 0",
    ),
    "more folds than training rows": (
        lambda c: ["run", str(c.edited("n_train = 200", "n_train = 12")), "--set", "cv=20", "--no-progress"],
        "cv must be between 2 and the 12 training examples, got 20",
    ),
    "missing metric": (
        lambda c: ["run", str(c.edited('metric = "val_accuracy"\n', ""))],
        "'metric' is required",
    ),
    "data without a kind": (
        lambda c: ["run", str(c.edited('kind = "synthetic"\n', ""))],
        "'data.kind' is required",
    ),
    "space without a module": (
        lambda c: ["run", str(c.edited('module = "spaces.mlp"\n', ""))],
        "'space.module' is required",
    ),
    "sampler without a name": (
        lambda c: ["run", str(c.edited('name = "RandomSampler"', "seed = 1"))],
        "'sampler.name' is required",
    ),
    "enqueue not tables": (
        lambda c: ["run", str(c.study), "--set", "enqueue=[1, 2]"],
        "'enqueue.0' must be a table, got 1",
    ),
    "a table given as a number": (lambda c: ["run", str(c.study), "--set", "data=3"], "'data' must be a table, got 3"),
    "unknown key in the budget table": (
        lambda c: ["run", str(c.edited("patience =", "patiense ="))],
        "[budget]: unknown key 'patiense' (did you mean 'patience'?)",
    ),
}

# --- storages and files: URLs, databases that are not (or no longer) study databases, data -------
STORAGE_AND_FILES: dict[str, Case] = {
    "unsupported storage URL": (
        lambda c: ["run", "synthetic", "--storage", "nosuchdb://host/x"],
        "unsupported storage URL",
    ),
    "malformed storage URL": (lambda c: ["run", "synthetic", "--storage", "::not a url::"], "malformed storage URL"),
    "unreachable server": (
        lambda c: ["run", "synthetic", "--storage", "postgresql+psycopg2://postgres@127.0.0.1:1/none"],
        "cannot open storage",
    ),
    "file that is not a study database": (
        lambda c: ["run", "synthetic", "--storage", f"sqlite:///{_other_sqlite(c.scratch / 'other.db')}"],
        "has no Optuna tables",
    ),
    **{
        f"database of a newer schema ({command})": (
            lambda c, command=command: [
                *command.replace("STUDY", str(c.study)).split(),
                "--storage",
                f"sqlite:///{_newer(c)}",
            ],
            "no longer compatible",
        )
        for command in ("run STUDY", "list", "holdout kept")
    },
    "missing IMDB data": (
        lambda c: ["run", "imdb-bow", *_env(c, SEARCH_DATA_DIR=str(c.scratch / "nowhere"))],
        "does not exist",
    ),
    "corrupt IMDB archive": (
        lambda c: [
            "run",
            "imdb-bow",
            *_env(c, SEARCH_DATA_DIR=str(_write_bytes(c.scratch / "data" / "aclImdb_v1.tar.gz", b"\x1f\x8b\x08 no"))),
        ],
        "unreadable or corrupt",
    ),
    # SQLite databases that are corrupt, truncated, locked, read-only or not files, for every command
    "database with garbage after its header": (
        lambda c: ["run", str(c.study), "--storage", f"sqlite:///{_garbage_db(c)}"],
        "is not a study database",
    ),
    "database of random bytes": (
        lambda c: ["list", "--storage", f"sqlite:///{_write_bytes(c.scratch / 'r.db', _noise(8192)) / 'r.db'}"],
        "not a SQLite file",
    ),
    **{
        f"truncated database ({command})": (
            lambda c, command=command: [*_command(c, command), "--storage", f"sqlite:///{_truncated(c)}"],
            "corrupt or truncated",
        )
        for command in ("run STUDY", "list", "holdout kept", "report kept", "worker kept")
    },
    **{
        f"database locked by another process ({command})": (
            lambda c, command=command: [*_command(c, command), "--storage", f"sqlite:///{_locked(c)}"],
            "is locked by another process",
        )
        for command in ("run STUDY", "list", "holdout kept", "report kept", "worker kept")
    },
    **{
        f"read-only database file ({command})": (
            lambda c, command=command: [*_command(c, command), "--storage", f"sqlite:///{_immutable(c.copy_db())}"],
            "the file is read-only",
        )
        for command in ("run STUDY", "holdout kept", "list")
    },
    **{
        f"database in a read-only folder ({command})": (
            lambda c, command=command: [*_command(c, command), "--storage", f"sqlite:///{_in_read_only_folder(c)}"],
            "is read-only",
        )
        for command in ("run STUDY", "worker kept", "report kept")
    },
    "a folder instead of a database (list)": (
        lambda c: ["list", "--storage", f"sqlite:///{_mkdir(c.scratch / 'folder.db')}"],
        "not a file",
    ),
    "a folder instead of a database (run)": (
        lambda c: ["run", str(c.study), "--storage", f"sqlite:///{_mkdir(c.scratch / 'folder.db')}"],
        "not a file",
    ),
    "a database path through a file (run)": (
        lambda c: ["run", str(c.study), "--storage", "sqlite:////etc/passwd/x.db"],
        "/etc/passwd is not a folder",
    ),
    "a database path through a file (worker)": (
        lambda c: ["worker", "kept", "--storage", "sqlite:////etc/passwd/x.db"],
        "no study database at /etc/passwd/x.db",
    ),
    # artifacts and outputs that cannot be written: refused before any training or drawing
    "holdout of a trial the study does not have": (
        lambda c: ["holdout", "kept", "--trial", "7"],
        "study 'kept' has no trial 7 (its trials are numbered 0 to 0)",
    ),
    "holdout of an ensemble and a trial": (
        lambda c: ["holdout", "kept", "--ensemble", "2", "--trial", "0"],
        "an ensemble is of the best trials, retrained once each: without --trial or --repeats",
    ),
    "holdout ensemble larger than the study": (
        lambda c: ["holdout", "kept", "--ensemble", "2"],
        "study 'kept' has 1 distinct complete configurations: an ensemble of 2 needs as many",
    ),
    "holdout repeated no times": (
        lambda c: ["holdout", "kept", "--repeats", "0"],
        "repeats must be a whole number from 1 to 100, got 0",
    ),
    "holdout of a negative trial number": (
        lambda c: ["holdout", "kept", "--trial", "-1"],
        "study 'kept' has no trial -1",
    ),
    "holdout into a read-only artifact folder": (
        lambda c: ["holdout", "kept", *_env(c, SEARCH_ARTIFACTS=str(_immutable(_mkdir(c.scratch / "artifacts"))))],
        "cannot write the study's artifacts",
    ),
    "report into a read-only folder": (
        lambda c: ["report", "kept", "--out", str(_immutable(_mkdir(c.scratch / "reports")))],
        "is read-only",
    ),
    "report onto an existing file that is not html": (
        lambda c: ["report", "kept", "--out", str(_write(c.scratch / "notes.txt", "mine"))],
        "not a folder",
    ),
    "report into a folder no one can write in": (
        lambda c: ["report", "kept", "--out", "/proc"],
        "cannot write the report /proc/",
    ),
    "holdout of a study whose stored space is not loadable": (
        lambda c: ["holdout", "kept", "--storage", f"sqlite:///{_edited_config(c, space={'dropout': [0.0, 0.5]})}"],
        "the stored definition of study 'kept': 'space.module' is required",
    ),
    "worker on a stored definition edited out of range": (
        lambda c: ["worker", "kept", "--storage", f"sqlite:///{_edited_config(c, max_epochs=0)}"],
        "the stored definition of study 'kept': 'max_epochs' must be at least 1, got 0",
    ),
    "report into a folder that does not exist": (
        lambda c: ["report", "kept", "--out", str(c.scratch / "no" / "such" / "report.html")],
        "does not exist",
    ),
    "dashboard on a port out of range": (lambda c: ["dashboard", "--port", "70000"], "port 70000 is out of range"),
    "dashboard on a port in use": (lambda c: ["dashboard", "--port", str(_busy_port())], "cannot serve on"),
    "definition file that is not UTF-8": (
        lambda c: ["run", str(_write_bytes(c.scratch / "latin1.toml", _latin1(c)) / "latin1.toml")],
        "is not UTF-8 text",
    ),
    # CSV files: wide, empty, header only, a missing or unfit target
    "CSV with 20,000 columns": (
        lambda c: _csv_run(c, "wide.csv", _table(20_000, 12), "regression"),
        "20,000 model inputs after one-hot encoding",
    ),
    "CSV with an identifier column of 12,000 values": (
        lambda c: _csv_run(c, "ids.csv", "id,x,y\n" + "".join(f"u{i},{i},{i % 2}\n" for i in range(12_000))),
        "12,000 categories",
    ),
    "CSV without the target column": (
        lambda c: _csv_run(c, "cars.csv", _table(3, 12), target="nope"),
        "no column 'nope'",
    ),
    "empty CSV": (lambda c: _csv_run(c, "empty.csv", ""), "is empty"),
    "CSV with only a header": (lambda c: _csv_run(c, "header.csv", "x0,x1,y\n"), "header but no data rows"),
    "CSV whose target has a single class": (
        lambda c: _csv_run(c, "one.csv", "x,y\n" + "".join(f"{i},same\n" for i in range(12))),
        "single class",
    ),
    "CSV whose every row is a class of its own": (
        lambda c: _csv_run(c, "ids.csv", "x,y\n" + "".join(f"{i % 5},row{i}\n" for i in range(600))),
        "ids.csv holds 600 classes in 600 rows",
    ),
    "CSV naming a column twice": (
        lambda c: _csv_run(c, "twice.csv", "x,x,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20))),
        "names column(s) 'x' more than once",
    ),
    "CSV with a few words in a numeric column": (
        lambda c: _csv_run(
            c, "mixed.csv", "x,y\n" + "".join(f"{'unknown' if i % 40 == 0 else i},{i % 2}\n" for i in range(120))
        ),
        "mixed.csv holds numbers and 3 other value(s) (e.g. 'unknown')",
    ),
    "CSV with an infinite regression target": (
        lambda c: _csv_run(
            c, "inf.csv", "x,y\n" + "".join(f"{i},{'inf' if i == 5 else i}\n" for i in range(12)), "regression"
        ),
        "non-finite",
    ),
}

# Undone after each case: immutable flags, held locks, listening sockets.
_UNDO: list[Callable[[], object]] = []


@pytest.fixture(autouse=True)
def _undo_case_setup(request: pytest.FixtureRequest) -> None:
    def undo() -> None:
        while _UNDO:
            _UNDO.pop()()

    request.addfinalizer(undo)


def _command(c: Context, command: str) -> list[str]:
    return command.replace("STUDY", str(c.study)).split()


def _noise(size: int, seed: int = 0) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


def _garbage_db(c: Context) -> Path:
    """The first 100 bytes (the header) of the study database, then garbage."""
    blob = c.db.read_bytes()
    path = c.scratch / "garbage.db"
    path.write_bytes(blob[:100] + _noise(len(blob) - 100))
    return path


def _truncated(c: Context) -> Path:
    """The first half of the study database."""
    blob = c.db.read_bytes()
    path = c.scratch / "truncated.db"
    path.write_bytes(blob[: len(blob) // 2])
    return path


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=DELETE")
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def _locked(c: Context) -> Path:
    """A copy of the study database (rollback journal) that another process holds an exclusive lock on.

    Another process: this one's lock would go with the first ``close`` of any handle of the file (POSIX
    locks), e.g. the snapshot's.
    """
    import subprocess
    import sys

    path = c.copy_db("locked.db")
    locker = subprocess.Popen([sys.executable, "-c", _LOCKER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert locker.stdout is not None and locker.stdout.readline() == b"locked\n"
    _UNDO.append(lambda: locker.communicate(timeout=30))
    return path


def _immutable(path: Path) -> Path:
    """Make ``path`` immutable (``chattr +i``: read-only even for root) until the case ends."""
    import subprocess

    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i does not work here")
    _UNDO.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))
    return path


def _in_read_only_folder(c: Context) -> Path:
    folder = _mkdir(c.scratch / "read-only")
    path = folder / "studies.db"
    path.write_bytes(c.db.read_bytes())
    _immutable(folder)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _busy_port() -> int:
    """A port of 127.0.0.1 that this process listens on until the case ends."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    _UNDO.append(sock.close)
    return int(sock.getsockname()[1])


def _latin1(c: Context) -> bytes:
    return c.study.read_bytes() + "# caf\u00e9 (latin-1)\n".encode("latin-1")


def _table(n_features: int, n_rows: int) -> str:
    """A numeric CSV: ``x0 ... x{n-1}`` and a target ``y``."""
    header = ",".join([*(f"x{j}" for j in range(n_features)), "y"])
    return "\n".join([header, *(",".join([str(i % 7)] * n_features + [str(i % 2)]) for i in range(n_rows))]) + "\n"


def _csv_run(c: Context, name: str, text: str, task: str = "classification", *, target: str = "y") -> list[str]:
    path = _write(c.scratch / name, text)
    return ["run", "csv", "--path", str(path), "--target", target, "--task", task, "--no-progress"]


CASES: dict[str, Case] = {**NAMES_AND_FLAGS, **DEFINITIONS, **STORAGE_AND_FILES}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _write_bytes(path: Path, blob: bytes) -> Path:
    """Write ``blob`` and return the folder holding it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path.parent


def _other_sqlite(path: Path) -> Path:
    """A SQLite file of someone else's (one table, one row)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    return path


def _edited_config(c: Context, **changes: object) -> Path:
    """A copy of the study database with its stored definition edited (``changes`` set; a ``space`` replaced)."""
    import json

    path = c.copy_db("edited.db")
    with sqlite3.connect(path) as conn:
        ((raw,),) = conn.execute("SELECT value_json FROM study_user_attributes WHERE key = 'config'")
        config = json.loads(raw)
        if "space" in changes:
            config["space"] = changes.pop("space")
        config.update(changes)
        conn.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = 'config'", (json.dumps(config),))
    conn.close()
    return path


def _newer(c: Context) -> Path:
    """A copy of the study database whose schema claims a newer Optuna."""
    path = c.copy_db("newer.db")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'v99.0.0.a'")
        conn.execute("UPDATE version_info SET schema_version = 99, library_version = '99.0.0'")
    conn.close()
    return path


ENV_MARK = "--env:"


def _env(c: Context, **variables: str) -> list[str]:
    """Environment variables for the command, passed through the argument list (taken out before the run)."""
    return [f"{ENV_MARK}{key}={value}" for key, value in variables.items()]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_changes_nothing(
    populated: tuple[Path, Path],
    tmp_path: Path,
    case: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, study = populated
    # A locked database is refused after the checks' wait; a shorter wait refuses it the same way, sooner.
    monkeypatch.setattr(storage_checks, "CHECK_TIMEOUT_S", 0.5)
    scratch = tmp_path / "case"
    (scratch / "cwd").mkdir(parents=True)
    ctx = Context(study=study, db=db, scratch=scratch)
    build, message = CASES[case]
    argv = build(ctx)
    env = {a.removeprefix(ENV_MARK).split("=", 1)[0]: a.split("=", 1)[1] for a in argv if a.startswith(ENV_MARK)}
    argv = [a for a in argv if not a.startswith(ENV_MARK)]
    if NO_STORAGE in argv:
        argv.remove(NO_STORAGE)
    elif "--storage" not in argv and argv[0] != "embeddings":
        argv += ["--storage", ctx.url]
    before = {"study": _tree(db.parent), "case": _tree(tmp_path)}
    line = one_line_error(cli_here(capfd, *argv, env=env, cwd=scratch / "cwd"))
    assert message in line, line
    assert {"study": _tree(db.parent), "case": _tree(tmp_path)} == before


def test_the_suite_covers_every_class_with_sixty_cases() -> None:
    """The acceptance of the bad-input work: at least 60 cases over every class of input."""
    assert len(CASES) >= 60, len(CASES)
    assert all(len(section) >= 5 for section in (NAMES_AND_FLAGS, DEFINITIONS, STORAGE_AND_FILES))


# The table runs in this process; a few cases also run as a fresh process, where everything a process prints
# (TensorFlow's and absl's start-up lines among them) reaches the user.
IN_A_PROCESS = ("unknown study", "trials that are not a number", "missing IMDB data", "CSV naming a column twice")


@pytest.mark.parametrize("case", IN_A_PROCESS)
def test_bad_input_in_a_fresh_process_is_one_line_too(populated: tuple[Path, Path], tmp_path: Path, case: str) -> None:
    db, study = populated
    scratch = tmp_path / "case"
    (scratch / "cwd").mkdir(parents=True)
    build, message = CASES[case]
    argv = build(Context(study=study, db=db, scratch=scratch))
    env = {a.removeprefix(ENV_MARK).split("=", 1)[0]: a.split("=", 1)[1] for a in argv if a.startswith(ENV_MARK)}
    argv = [a for a in argv if not a.startswith(ENV_MARK) and a != NO_STORAGE] + ["--storage", f"sqlite:///{db}"]
    before = _tree(db.parent)
    assert message in one_line_error(cli(*argv, env=env, cwd=scratch / "cwd"))
    assert _tree(db.parent) == before
