"""Generated bad input (Hypothesis): every field of the definition schema and every command-line option.

The invalid values are drawn from what the code declares, as scikit-learn draws
them from its parameter constraints: for the definition, from the JSON schema of
``search.engine._config`` (a type it is not, a number out of its range, a text
outside its choices, an empty text, a missing required key, an unknown key, a
number that is not finite); for the command line, from a table of each option's
limits that a test keeps complete against ``--help``. Every case must keep the
contract: exit status 2, one ``error:`` line naming the field, the study database
byte-for-byte unchanged and no ``-wal``/``-shm`` file beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.engine._config import definition_schema
from tests._helpers import cli_here, fixture_env
from tests.search.test_workers import tiny_study

EXAMPLES = 300  # per test: two tests, 600 generated cases in the default run
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # the same draws every run: a failure is found again, not only once
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
WRONG_SCALARS = st.one_of(WORDS, st.booleans(), st.lists(st.integers(0, 3), max_size=2))


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> dict[str, Any]:
    """A database with one finished study ``kept``, and that study's definition as a dict."""
    folder = tmp_path_factory.mktemp("generated")
    definition = tiny_study(folder, "kept", trials=1)
    db = folder / "studies.db"
    env = fixture_env(folder, shared_cache)
    ran = cli_here(None, "run", str(definition), "--storage", f"sqlite:///{db}", "--no-progress", env=env)
    assert ran.returncode == 0, ran.stderr
    return {"db": db, "folder": folder, "definition": tomllib.loads(definition.read_text())}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_refused(kept: dict[str, Any], capfd: pytest.CaptureFixture[str], argv: list[str], names: list[str]) -> None:
    """The contract: exit 2, one ``error:`` line naming one of ``names``, the database as it was, no side files."""
    db = kept["db"]
    before = _digest(db)
    ran = cli_here(capfd, *argv, "--storage", f"sqlite:///{db}", cwd=kept["folder"])
    lines = ran.stderr.strip().splitlines()
    assert ran.returncode == 2, (argv, ran.returncode, ran.stderr[-1500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, ran.stderr[-1500:])
    assert any(name in lines[0] for name in names), (names, lines[0])
    assert _digest(db) == before
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


# --- the definition: invalid values drawn from its declared JSON schema --------------------------------------------


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    return node


def _branches(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The value kinds a field accepts (``anyOf`` spelled out), ``null`` left out: a TOML file has none."""
    node = _resolve(node, defs)
    kinds = [_resolve(b, defs) for b in node.get("anyOf", [node])]
    return [k for k in kinds if k.get("type") != "null"]


def _not_a(kinds: set[str]) -> st.SearchStrategy[Any]:
    """A value of none of the JSON types ``kinds`` (integers are numbers; in this strict schema, not vice versa)."""
    options = []
    if not kinds & {"string"}:
        options.append(WORDS)
    if not kinds & {"integer", "number"}:
        options.append(st.integers(-5, 5))
    if "integer" in kinds and "number" not in kinds:
        options.append(st.floats(0.5, 1e6).filter(lambda v: not v.is_integer()))
    if not kinds & {"array"}:
        options.append(st.lists(st.integers(0, 3), max_size=2))
    if not kinds & {"object"}:
        options.append(st.dictionaries(WORDS, st.integers(0, 3), max_size=1))
    return st.one_of(*options)


def _out_of_range(kind: dict[str, Any]) -> list[st.SearchStrategy[Any]]:
    """Numbers outside a numeric kind's declared bounds, and numbers that are not finite."""
    out: list[st.SearchStrategy[Any]] = []
    if kind.get("type") not in ("integer", "number"):
        return out
    whole = kind["type"] == "integer"
    if "minimum" in kind:
        low = kind["minimum"]
        out.append(st.integers(max_value=math.ceil(low) - 1) if whole else st.floats(max_value=low, exclude_max=True))
    if "exclusiveMinimum" in kind:
        out.append(st.floats(max_value=kind["exclusiveMinimum"], allow_nan=False, allow_infinity=False))
    if "maximum" in kind:
        high = kind["maximum"]
        out.append(
            st.integers(min_value=math.floor(high) + 1) if whole else st.floats(min_value=high, exclude_min=True)
        )
    if kind["type"] == "number":
        out.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    return out


def _invalid(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value that the schema ``node`` refuses."""
    kinds = _branches(node, defs)
    options = [_not_a({k["type"] for k in kinds if "type" in k})]
    for kind in kinds:
        options += _out_of_range(kind)
        if kind.get("type") == "string":
            if kind.get("minLength"):
                options.append(st.just(""))
            allowed = kind.get("enum") or ([kind["const"]] if "const" in kind else None)
            if allowed and len(kinds) == 1:
                options.append(WORDS.filter(lambda v, allowed=allowed: v not in allowed))
    return st.one_of(*options)


def _fields(schema: dict[str, Any], defs: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every declared field of the schema as a path, tables' own fields included."""
    found = []
    for name, node in schema.get("properties", {}).items():
        path = (*prefix, name)
        found.append(path)
        objects = [k for k in _branches(node, defs) if k.get("type") == "object" and "properties" in k]
        for table in objects:
            found += _fields(table, defs, path)
    return found


SCHEMA = definition_schema()
DEFS = SCHEMA["$defs"]
FIELDS = _fields(SCHEMA, DEFS)


def _node(path: tuple[str, ...]) -> dict[str, Any]:
    node: dict[str, Any] = SCHEMA
    for part in path:
        table = next(k for k in [*_branches(node, DEFS), _resolve(node, DEFS)] if "properties" in k)
        node = table["properties"][part]
    return node


@st.composite
def bad_definitions(draw: st.DrawFn, base: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``base`` with one field made invalid: a value it may not take, a required key gone, a key unknown."""
    definition = json.loads(json.dumps(base))
    how = draw(st.sampled_from(["value", "value", "value", "missing", "unknown"]))
    if how == "missing":
        required = [(p, k) for p in [(), *FIELDS] for k in _required(p) if _has(definition, p)]
        path, key = draw(st.sampled_from(required))
        table = _at(definition, path)
        table.pop(key)
        return definition, [".".join((*path, key))]
    if how == "unknown":
        closed = [p for p in [(), *FIELDS] if _closed(p) and _has(definition, p)]
        path = draw(st.sampled_from(closed))
        key = draw(WORDS.filter(lambda k: k not in _declared(path)))
        _at(definition, path)[key] = 1
        return definition, [f"unknown key {key!r}"]
    path = draw(st.sampled_from(FIELDS))
    value = draw(_invalid(_node(path), DEFS))
    table = definition
    for part in path[:-1]:
        table = table.setdefault(part, {}) if isinstance(table.get(part, {}), dict) else table
    table[path[-1]] = value
    return definition, [".".join(path), path[-1]]


def _table(path: tuple[str, ...]) -> dict[str, Any]:
    if not path:
        return SCHEMA
    return next(k for k in _branches(_node(path), DEFS) if "properties" in k)


def _required(path: tuple[str, ...]) -> list[str]:
    try:
        return list(_table(path).get("required", []))
    except StopIteration:
        return []


def _closed(path: tuple[str, ...]) -> bool:
    try:
        return _table(path).get("additionalProperties", True) is False
    except StopIteration:
        return False


def _declared(path: tuple[str, ...]) -> set[str]:
    return set(_table(path).get("properties", {}))


def _has(definition: dict[str, Any], path: tuple[str, ...]) -> bool:
    try:
        return isinstance(_at(definition, path), dict)
    except KeyError:
        return False


def _at(definition: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    table = definition
    for part in path:
        table = table[part]
    return table


def toml(value: Any) -> str:
    """A value as TOML (inline tables for tables): what a user could have written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


def test_the_generators_cover_every_field_of_the_schema() -> None:
    assert {".".join(p) for p in FIELDS} >= {
        "name",
        "trials",
        "data.kind",
        "sampler.n_startup_trials",
        "budget.patience",
    }
    assert len(FIELDS) >= 40, len(FIELDS)


@SETTINGS
@given(data=st.data())
def test_generated_bad_definitions_are_refused_by_the_contract(
    data: st.DataObject, kept: dict[str, Any], capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    definition, names = data.draw(bad_definitions(kept["definition"]))
    path = tmp_path / "bad.toml"
    path.write_text("".join(f"{json.dumps(k)} = {toml(v)}\n" for k, v in definition.items()))
    _check_refused(kept, capfd, ["run", str(path), "--no-progress"], names)


# --- the command line: every option's invalid values -----------------------------------------------------------------

NOT_INT = st.one_of(WORDS, st.floats(0.5, 99).map(lambda v: f"{v:.2f}"))
NOT_NUMBER = WORDS.filter(lambda v: v not in ("inf", "nan", "infinity"))


def ints(low: int | None = None, high: int | None = None) -> st.SearchStrategy[str]:
    """Whole numbers outside ``[low, high]``, and texts that are no whole number."""
    out: list[st.SearchStrategy[str]] = [NOT_INT]
    if low is not None:
        out.append(st.integers(low - 10**6, low - 1).map(str))
    if high is not None:
        out.append(st.integers(high + 1, high + 10**9).map(str))
    return st.one_of(*out)


def positive_seconds() -> st.SearchStrategy[str]:
    return st.one_of(NOT_NUMBER, st.floats(max_value=0.0).map(repr), st.sampled_from(["nan", "inf"]))


STORAGES = st.one_of(
    st.just(""),
    WORDS.map(lambda w: f"{w}://host/x"),
    WORDS.map(lambda w: f"sqlite:///{w}.db?{w}=1"),
    st.sampled_from(["::not a url::", "sqlite://", "grpc://no-port", "sqlite:////proc/x/studies.db"]),
)

ARTIFACT_URLS = WORDS.filter(lambda w: w != "file").map(lambda w: f"{w}://bucket")

# (command, option) -> invalid values; the words any message about them holds.
OPTIONS: dict[tuple[str, str], tuple[st.SearchStrategy[str], list[str]]] = {
    ("run", "--trials"): (ints(1, 1_000_000), ["trials"]),
    ("run", "--timeout"): (positive_seconds(), ["timeout"]),
    ("run", "--workers"): (ints(1), ["workers"]),
    ("run", "--memory-limit"): (positive_seconds(), ["memory"]),
    ("run", "--storage"): (STORAGES, ["storage", "study database"]),
    ("run", "--set"): (st.one_of(WORDS, WORDS.map(lambda w: f"={w}")), ["--set expects KEY=VALUE"]),
    ("run", "--task"): (WORDS.filter(lambda w: w not in ("classification", "regression")), ["--task"]),
    ("run", "--artifacts"): (ARTIFACT_URLS, ["artifact store"]),
    ("run", "--study"): (st.sampled_from(["", " ", "a\u0007b", "x" * 129]), ["--study", "name"]),
    ("worker", "--trials"): (ints(1), ["trials"]),
    ("worker", "--timeout"): (positive_seconds(), ["timeout"]),
    ("worker", "--memory-limit"): (
        st.one_of(NOT_NUMBER, st.floats(max_value=-1e-9).map(repr), st.sampled_from(["nan", "inf"])),
        ["memory"],
    ),
    ("worker", "--cpus"): (st.one_of(WORDS, st.integers(10_000, 10**6).map(str)), ["--cpus", "cores"]),
    ("worker", "--slot"): (ints(0), ["slot"]),
    ("worker", "--storage"): (STORAGES, ["storage", "study database"]),
    ("worker", "--artifacts"): (ARTIFACT_URLS, ["artifact store"]),
    ("holdout", "--trial"): (ints(0, 0), ["trial"]),
    ("holdout", "--repeats"): (ints(1, 100), ["repeats"]),
    ("holdout", "--ensemble"): (ints(1, 20), ["ensemble"]),
    ("holdout", "--storage"): (STORAGES, ["storage", "study database"]),
    ("list", "--storage"): (STORAGES, ["storage", "study database"]),
    ("report", "--storage"): (STORAGES, ["storage", "study database"]),
    ("report", "--out"): (st.sampled_from(["/proc", "/etc/passwd", "/no/such/folder/r.html"]), ["report", "--out"]),
    ("dashboard", "--port"): (ints(1, 65535), ["port"]),
    ("dashboard", "--storage"): (STORAGES, ["storage", "study database"]),
    ("dashboard", "--artifacts"): (ARTIFACT_URLS, ["artifact store"]),
    ("dashboard", "--host"): (st.sampled_from(["999.1.1.1", "no such host", "::99999", "-"]), ["cannot serve on"]),
    ("proxy", "--port"): (ints(1, 65535), ["port"]),
    ("proxy", "--threads"): (ints(1), ["threads"]),
    ("proxy", "--host"): (st.sampled_from(["999.1.1.1", "no such host", "::99999", "-"]), ["cannot serve on"]),
    ("proxy", "--storage"): (STORAGES, ["storage", "study database"]),
}
# Options that take any value of their type, or none: flags, names and paths checked by their own tests.
FREE = {
    "--json",
    "--verbose",
    "--no-progress",
    "--force",
    "--allow-changes",
    "--allow-module",
    "--path",
    "--target",
    "-h",
}
ARGUMENTS = {"run": ["kept.toml"], "worker": ["kept"], "holdout": ["kept"], "report": ["kept"]}


def _options(command: str, capfd: pytest.CaptureFixture[str]) -> set[str]:
    ran = cli_here(capfd, command, "--help")
    return set(re.findall(r"^  (--[a-z-]+)", ran.stdout, re.MULTILINE)) - {"--help"}


def test_the_option_table_covers_every_option_of_every_command(capfd: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "worker", "holdout", "list", "report", "dashboard", "proxy"):
        missing = _options(command, capfd) - FREE - {o for c, o in OPTIONS if c == command}
        assert not missing, (command, missing)


@SETTINGS
@given(data=st.data())
def test_generated_bad_options_are_refused_by_the_contract(
    data: st.DataObject, kept: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    command, option = data.draw(st.sampled_from(sorted(OPTIONS)))
    values, names = OPTIONS[(command, option)]
    value = data.draw(values)
    definition = str(kept["folder"] / "kept.toml")
    arguments = [definition if a == "kept.toml" else a for a in ARGUMENTS.get(command, [])]
    argv = [command, *arguments, f"{option}={value}"]
    if option == "--storage":
        db = kept["db"]
        before = _digest(db)
        ran = cli_here(capfd, *argv, cwd=kept["folder"])
        lines = ran.stderr.strip().splitlines()
        assert ran.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, ran.stderr[-1500:])
        assert _digest(db) == before
        return
    _check_refused(kept, capfd, argv, [*names, option])
