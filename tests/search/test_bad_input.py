"""Every bad input: one line naming the problem, exit status 2, the database row-for-row unchanged."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import pytest

from tests._helpers import cli, sqlite_rows
from tests.search.test_workers import tiny_study


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A study database with one finished study, and that study's definition."""
    folder = tmp_path_factory.mktemp("bad-input")
    study = tiny_study(folder, "kept", trials=1)
    result = cli("run", str(study), "--storage", f"sqlite:///{folder / 'studies.db'}", "--no-progress")
    assert result.returncode == 0, result.stderr
    return folder / "studies.db", study


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    return lines[0]


def _edited(study: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = study.read_text()
    assert old in text
    path = tmp_path / "edited.toml"
    path.write_text(text.replace(old, new))
    return path


CASES = {
    "unknown study": (lambda s, t: ["run", "no-such-study"], "unknown study 'no-such-study'"),
    "unknown space": (
        lambda s, t: ["run", str(_edited(s, t, 'module = "spaces.mlp"', 'module = "spaces.nope"'))],
        "unknown space module 'spaces.nope'",
    ),
    "invalid bounds": (lambda s, t: ["run", str(s), "--set", "space.units=[64, 8]"], "space bound 'units'"),
    "unknown sampler": (lambda s, t: ["run", str(s), "--set", "sampler.name=Nope"], "unknown sampler 'Nope'"),
    "unknown pruner": (lambda s, t: ["run", str(s), "--set", "pruner.name=Nope"], "unknown pruner 'Nope'"),
    "other direction": (
        lambda s, t: ["run", str(_edited(s, t, 'direction = "maximize"', 'direction = "minimize"'))],
        "exists with direction maximize, not minimize",
    ),
    "changed definition": (
        lambda s, t: ["run", str(s), "--set", "space.dropout=[0.0, 0.1]"],
        "different definition",
    ),
    "bad timeout": (lambda s, t: ["run", str(s), "--timeout", "-1"], "timeout must be a positive number"),
    "non-finite timeout": (lambda s, t: ["run", str(s), "--timeout", "nan"], "timeout must be a positive number"),
    "huge budget": (lambda s, t: ["run", str(s), "--trials", "100000000"], "trials must be at most 1,000,000"),
    "misspelled key": (lambda s, t: ["run", str(s), "--set", "max_epoch=3"], "did you mean 'max_epochs'?"),
    "control character in the name": (
        lambda s, t: ["run", str(s), "--set", 'name="a\\u0007b"'],
        "holds a control character",
    ),
    "over-long name": (lambda s, t: ["run", str(s), "--study", "x" * 300], "at most 128 are allowed"),
    "unknown data setting": (lambda s, t: ["run", str(s), "--set", "data.colour=1"], "unknown [data] setting"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_leaves_the_database_unchanged(populated: tuple[Path, Path], tmp_path: Path, case: str) -> None:
    db, study = populated
    before = sqlite_rows(db)
    args, message = CASES[case]
    line = _one_line_error(cli(*args(study, tmp_path), "--storage", f"sqlite:///{db}"))
    assert message in line
    assert sqlite_rows(db) == before


def test_missing_or_corrupt_dataset(populated: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    db, _ = populated
    before = sqlite_rows(db)
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path / "nowhere"))
    assert "does not exist" in _one_line_error(cli("run", "imdb-bow", "--storage", f"sqlite:///{db}"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "aclImdb_v1.tar.gz").write_bytes(b"\x1f\x8b\x08 certainly not a tar archive")
    monkeypatch.setenv("SEARCH_DATA_DIR", str(tmp_path / "data"))
    assert "unreadable or corrupt" in _one_line_error(cli("run", "imdb-bow", "--storage", f"sqlite:///{db}"))
    assert sqlite_rows(db) == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://host/x", "unsupported storage URL"),
        ("::not a url::", "malformed storage URL"),
        ("postgresql+psycopg2://postgres@127.0.0.1:1/none", "cannot open storage"),
    ],
)
def test_malformed_or_unreachable_storage(url: str, message: str) -> None:
    assert message in _one_line_error(cli("run", "synthetic", "--storage", url))


def test_database_of_a_newer_schema(populated: tuple[Path, Path], tmp_path: Path) -> None:
    db, study = populated
    newer = tmp_path / "newer.db"
    newer.write_bytes(db.read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'v99.0.0.a'")
        conn.execute("UPDATE version_info SET schema_version = 99, library_version = '99.0.0'")
    before = sqlite_rows(newer)
    for args in (["run", str(study)], ["list"], ["holdout", "kept"]):
        assert "no longer compatible" in _one_line_error(cli(*args, "--storage", f"sqlite:///{newer}"))
    assert sqlite_rows(newer) == before


def test_file_that_is_not_a_study_database(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = sqlite_rows(other)
    assert "has no Optuna tables" in _one_line_error(cli("run", "synthetic", "--storage", f"sqlite:///{other}"))
    assert sqlite_rows(other) == before


def test_worker_for_a_missing_study(populated: tuple[Path, Path]) -> None:
    db, _ = populated
    before = sqlite_rows(db)
    assert "no study 'ghost'" in _one_line_error(cli("worker", "ghost", "--storage", f"sqlite:///{db}"))
    assert sqlite_rows(db) == before


def test_study_file_with_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(textwrap.dedent('name = "x"\nmetric = \n'))
    assert "invalid TOML" in _one_line_error(cli("run", str(path)))
