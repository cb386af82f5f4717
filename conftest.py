"""Docstring examples (``--doctest-modules`` over ``search/`` and ``spaces/``) run isolated.

Each example gets its own home, cache, working folder and ``tempfile`` folder (what
``tempfile.mkdtemp()`` in an example creates) under ``tmp_path``, no inherited storage
or artifact settings, one worker (its trials run in the example's process, as the
tests' do unless they test workers), and the shared data folder (``../shared/data``) when there is one,
so that examples never write outside pytest's temporary folder and do not depend on
where pytest was started.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED_DATA = Path(os.environ.get("SEARCH_DATA_DIR") or REPO.parent / "shared" / "data").expanduser().resolve()


@pytest.fixture(autouse=True)
def _isolated_doctest(request: pytest.FixtureRequest) -> None:
    if not isinstance(request.node, pytest.DoctestItem):
        return
    tmp_path: Path = request.getfixturevalue("tmp_path")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("SEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEARCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SEARCH_STORAGE", raising=False)
    monkeypatch.delenv("SEARCH_ARTIFACTS", raising=False)
    monkeypatch.setenv("SEARCH_WORKERS", "1")  # trials in the example's process: workers have tests of their own
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("SEARCH_DATA_DIR", str(SHARED_DATA))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # for worker processes
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(tmp_path)
