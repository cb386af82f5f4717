"""The package's shape: stages import only downwards, no import cycles, a small public face."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import search

REPO = Path(__file__).resolve().parents[2]
STAGES = ("search.data", "search.models", "search.engine", "search.results", "search.cli", "search.testing")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("search", "spaces", cache_dir=None)


def test_no_import_cycles_counting_imports_inside_functions(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append((*graph.find_shortest_chain(importer=imported, imported=module), imported))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _stage(module: str) -> str:
    return next((s for s in STAGES if module == s or module.startswith(s + ".")), module)


def test_other_stages_and_spaces_are_reached_through_public_names_only(graph: grimp.ImportGraph) -> None:
    private = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            crosses = _stage(module) != _stage(imported)
            if crosses and any(part.startswith("_") for part in imported.split(".")[1:]):
                private.append(f"{module} -> {imported}")
    assert not private, "private modules imported across stages:\n" + "\n".join(private)
    spaces_imports = {
        i for m in graph.modules if m.startswith("spaces") for i in graph.find_modules_directly_imported_by(m)
    }
    assert not [i for i in spaces_imports if "._" in i and i.startswith("search")]


def test_the_public_face_is_small_and_importable() -> None:
    assert len(search.__all__) <= 20
    for name in search.__all__:
        assert getattr(search, name) is not None
    for stage in STAGES:
        module = __import__(stage, fromlist=["__all__"])
        assert sorted(module.__all__) == sorted(set(module.__all__)), stage
        assert all(hasattr(module, name) for name in module.__all__), stage


def test_the_layer_contract_fails_on_an_upward_import(tmp_path: Path) -> None:
    for package in ("search", "spaces"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    clean = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout[-2000:] + clean.stderr[-2000:]
    records = tmp_path / "search" / "data" / "_records.py"
    records.write_text(records.read_text() + "\n\ndef _upward() -> None:\n    import search.results  # noqa\n")
    broken = subprocess.run(lint, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert broken.returncode == 1, broken.stdout[-2000:]
    assert "BROKEN" in broken.stdout and "search.data._records -> search.results" in broken.stdout
