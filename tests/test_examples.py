"""The example notebooks run top to bottom in a real Jupyter kernel, each within the 10 minutes the issue allows.

Each notebook runs in its own folder, with its own study storage and cache
(``SEARCH_HOME``, ``SEARCH_CACHE_DIR``), on the shared data folder. The executed
copy is written next to it, so a failure can be read cell by cell.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.ipynb"))
DATA = Path(os.environ.get("SEARCH_DATA_DIR") or REPO.parent / "shared" / "data")
# The limit for one notebook, as shipped, on the 2-core machine.
WALL_LIMIT_S = 600


def _needed_files(source: str) -> list[list[str]]:
    """Data files a notebook reads, each as alternatives (any one of them suffices)."""
    needed = []
    if "imdb" in source.lower():
        needed.append(["aclImdb_v1.tar.gz", "aclImdb"])
    if "auto-mpg.csv" in source:
        needed.append(["auto-mpg.csv"])
    return needed


def _output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 3, f"expected the example notebooks in {REPO / 'examples'}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    for alternatives in _needed_files(source):
        if not any((DATA / name).exists() for name in alternatives):
            pytest.skip(f"{path.name} needs {' or '.join(alternatives)} in {DATA} (set SEARCH_DATA_DIR)")
    monkeypatch.setenv("SEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEARCH_DATA_DIR", str(DATA))
    monkeypatch.delenv("SEARCH_STORAGE", raising=False)
    monkeypatch.delenv("SEARCH_ARTIFACTS", raising=False)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)  # a fresh notebook: Keras' own default, as a user has it

    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    start = time.monotonic()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised\n{exc}", pytrace=False)
    finally:
        nbformat.write(nb, tmp_path / path.name)  # the executed copy, outputs included
    wall = time.monotonic() - start
    print(f"{path.name}: {wall:.0f} s")

    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [o for cell in code_cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {[e.get('ename') for e in errors]}"
    tail = "".join(_output_text(cell) for cell in code_cells[-3:])
    assert "holdout" in tail.lower(), f"{path.name}: the last cells print no holdout figure:\n{tail[-2000:]}"
    assert (tmp_path / "home").is_dir(), f"{path.name}: the study was not stored under SEARCH_HOME"
    assert wall < WALL_LIMIT_S, f"{path.name} took {wall:.0f} s, over the {WALL_LIMIT_S} s the issue allows"
    # Passed: drop the study's stored arrays (about 480 MB for the IMDB one); keep the reports and models.
    for blob in (tmp_path / "home").glob("**/data/*.joblib"):
        blob.unlink()
