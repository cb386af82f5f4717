"""What a run prints and loads: no framework start-up noise, no TensorFlow in a JAX run, the device it trains on."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests._helpers import cli, cli_here

# Imported by every Python process started with this folder on its path (the run and its workers): at exit, each
# notes whether TensorFlow was ever imported into it.
PROBE = """
import atexit, json, os, sys


def _note():
    with open(os.path.join(os.environ["TF_PROBE_DIR"], f"{os.getpid()}.json"), "w") as out:
        json.dump({"tensorflow": "tensorflow" in sys.modules, "argv": sys.argv[:3]}, out)


atexit.register(_note)
"""


def test_a_jax_run_prints_no_start_up_noise_and_no_process_imports_tensorflow(
    tmp_path: Path, imdb_available: Path
) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(PROBE)
    env = {
        "PYTHONPATH": f"{probe}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "TF_PROBE_DIR": str(probe),
        "SEARCH_WORKERS": "2",
    }
    for variable in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND", "XLA_FLAGS"):  # as on a clean install: nothing set
        env[variable] = ""
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    result = cli("run", "imdb-bow", "--trials", "3", "--set", "max_epochs=2", "--storage", storage, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (result.stdout + result.stderr).splitlines()
    # absl's INFO lines (I0000, I1207 ...), TensorFlow's first line, Optuna's INFO lines
    noise = [line for line in lines if re.match(r"[I]\d{4} |WARNING: All log messages|\[I ", line)]
    assert noise == [], noise
    notes = [json.loads(p.read_text()) for p in probe.glob("*.json")]
    workers = [n for n in notes if n["argv"][0].endswith("_process.py")]  # python -m search.engine._process
    assert len(workers) == 2, notes
    assert not any(n["tensorflow"] for n in notes), notes
    assert "2 workers on CPU" in result.stderr


def test_a_gpu_the_backend_cannot_use_is_one_warning_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    smi = tools / "nvidia-smi"  # a stand-in: one GPU of 80 GiB
    smi.write_text("#!/bin/sh\necho '0, 81559'\n")  # index, memory in MiB
    smi.chmod(0o755)
    env = {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "SEARCH_WORKERS": "1"}
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    ran = cli_here(capfd, "run", "iris", "--trials", "1", "--set", "max_epochs=2", "--storage", storage, env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    warnings = [line for line in ran.stderr.splitlines() if "nvidia-smi" in line]
    assert len(warnings) == 1 and "pip install 'keras-optuna-search[cuda]'" in warnings[0], ran.stderr
    assert "1 worker on CPU" in ran.stderr
