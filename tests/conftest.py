"""Shared fixtures: an isolated environment per test and a small synthetic study; the tests' Keras backend."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

# The tests train on JAX, the backend the shipped studies train on, unless KERAS_BACKEND says otherwise
# (before anything imports Keras, which reads it once). A test of TensorFlow alone says so with
# ``@pytest.mark.backend("tensorflow")`` and runs in a process of its own on that backend.
os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import optuna
import pytest

from search.data import Dataset, check_settings, register_loader
from tests._helpers import CHROMIUM_ARGS, PostgresServer, binary_dataset, fixture_env, postgres_binary

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEARCH_DATA_DIR") or REPO.parent / "shared" / "data")


def _synthetic(settings: dict, seed: int) -> Dataset:
    """Two Gaussian blobs in 20 dimensions: learnable in a few epochs (its settings checked as the shipped loader's)."""
    check_settings(settings, {"kind", "validation_size", "n_train", "n_test", "noise", "poison"}, "synthetic")
    rng = np.random.default_rng(1234)
    n_train, n_test = settings.get("n_train", 400), settings.get("n_test", 200)
    centers = rng.normal(size=(2, 20)).astype(np.float32)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 2
        x = centers[y] + rng.normal(scale=settings.get("noise", 1.5), size=(n, 20)).astype(np.float32)
        if settings.get("poison"):
            x[:] = np.nan  # makes every loss non-finite
        return x.astype(np.float32), y.astype(np.float32)

    return binary_dataset(*sample(n_train), *sample(n_test), class_names=["a", "b"])


register_loader("synthetic", _synthetic)

_ON_OTHER_BACKEND: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}  # (module, backend) -> test -> outcome


def _needs(item: pytest.Item) -> str | None:
    """The backend ``item`` is marked for (``@pytest.mark.backend(NAME)``), if any."""
    marker = item.get_closest_marker("backend")
    return str(marker.args[0]) if marker is not None else None


def _run_on(backend: str, item: pytest.Item) -> tuple[str, str]:
    """Run the tests of ``item``'s module marked for ``backend`` in a pytest process on it; ``item``'s outcome.

    One process per module and backend (per pytest worker): Keras reads its backend once per process.
    The outcome is ``("passed" | "failed" | "skipped", why)``.
    """
    module = item.nodeid.split("::")[0]
    if (module, backend) not in _ON_OTHER_BACKEND:
        marked = [i.nodeid for i in item.session.items if i.nodeid.split("::")[0] == module and _needs(i) == backend]
        outcomes: dict[str, tuple[str, str]] = {}
        with tempfile.TemporaryDirectory() as folder:
            report = Path(folder) / "report.xml"
            command = [sys.executable, "-m", "pytest", *marked, "-q", "-p", "no:cacheprovider"]
            command += [f"--junitxml={report}", "-o", "addopts=--strict-markers"]
            env = {**os.environ, "KERAS_BACKEND": backend, "SEARCH_TEST_CACHE_DIR": os.environ["SEARCH_CACHE_DIR"]}
            ran = subprocess.run(command, capture_output=True, text=True, env=env, cwd=item.config.rootpath)
            for case in ET.parse(report).iter("testcase") if report.exists() else ():
                failed = case.find("failure") if case.find("failure") is not None else case.find("error")
                skipped = case.find("skipped")
                if failed is not None:
                    outcomes[case.get("name", "")] = ("failed", f"{failed.get('message', '')}\n{failed.text or ''}")
                elif skipped is not None:
                    outcomes[case.get("name", "")] = ("skipped", skipped.get("message", ""))
                else:
                    outcomes[case.get("name", "")] = ("passed", "")
        outcomes[""] = ("failed", f"it did not run on {backend}:\n{ran.stdout[-3000:]}{ran.stderr[-3000:]}")
        _ON_OTHER_BACKEND[module, backend] = outcomes
    outcomes = _ON_OTHER_BACKEND[module, backend]
    return outcomes.get(item.nodeid.split("::")[-1], outcomes[""])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backend(name): the test needs Keras on this backend (run apart if not loaded)")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A test marked for a backend this process did not load Keras with runs in a process that did."""
    backend = _needs(pyfuncitem)
    loaded = sys.modules["keras"].backend.backend() if "keras" in sys.modules else os.environ["KERAS_BACKEND"]
    if backend is None or loaded == backend:
        return None
    outcome, why = _run_on(backend, pyfuncitem)
    if outcome == "skipped":
        pytest.skip(why)
    if outcome == "failed":
        pytest.fail(f"on {backend}: {why}", pytrace=False)
    return True


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """One cache (vectorized IMDB, the pretrained text embedding, compiled programs) for the whole run.

    Shared by the run's pytest-xdist workers, in the folder above their own, as the workers of one
    machine share it: the product writes each entry whole or not at all. Vectorizing IMDB takes about
    10 s, pretraining the default text embedding about 20 s; each worker paid both before.
    """
    if os.environ.get("SEARCH_TEST_CACHE_DIR"):  # e.g. the run's own, handed to a process on another backend
        return Path(os.environ["SEARCH_TEST_CACHE_DIR"])
    root = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # a pytest-xdist worker: the workers' base folders share a parent
        root = root.parent
    (root / "cache").mkdir(exist_ok=True)
    return root / "cache"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # `run` starts one worker per core unless told (SEARCH_WORKERS): the tests ask for workers where they test them.
    for variable, value in fixture_env(tmp_path, shared_cache).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("SEARCH_STORAGE", raising=False)
    monkeypatch.delenv("SEARCH_ARTIFACTS", raising=False)
    # the compilation cache's folder, which an earlier test's in-process training handed to the environment
    for variable in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", raising=False)
    # Every epoch checkpointed, so that the resume tests know which epoch a kill leaves (the interval has its own test).
    monkeypatch.setenv("SEARCH_CHECKPOINT_EVERY", "0")
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("SEARCH_DATA_DIR", str(SHARED_DATA))
    return tmp_path


@pytest.fixture
def imdb_available() -> Path:
    if not (SHARED_DATA / "aclImdb_v1.tar.gz").exists() and not (SHARED_DATA / "aclImdb").exists():
        pytest.skip(f"IMDB data not found in {SHARED_DATA} (set SEARCH_DATA_DIR)")
    return SHARED_DATA


@pytest.fixture
def auto_mpg_available() -> Path:
    if not (SHARED_DATA / "auto-mpg.csv").is_file():
        pytest.skip(f"auto-mpg.csv not found in {SHARED_DATA} (set SEARCH_DATA_DIR)")
    return SHARED_DATA / "auto-mpg.csv"


SYNTHETIC_TOML = """
name = "{name}"
metric = "val_accuracy"
direction = "{direction}"
seed = 7

[data]
kind = "synthetic"
validation_size = 0.25
{data}

[space]
module = "spaces.mlp"
depth = [1, 2]
units = [4, 16]
batch_size = [32, 64]
learning_rate = [0.003, 0.03]
{space}

[sampler]
name = "TPESampler"
n_startup_trials = 2

[pruner]
name = "{pruner}"

[budget]
trials = {trials}
max_epochs = {max_epochs}
patience = 2
"""


@pytest.fixture
def make_study(tmp_path: Path):
    """Write a synthetic study definition and return its path."""

    def make(
        name: str = "synthetic",
        *,
        trials: int = 3,
        max_epochs: int = 6,
        direction: str = "maximize",
        pruner: str = "NopPruner",
        data: str = "",
        space: str = "",
    ) -> Path:
        path = tmp_path / f"{name}-{abs(hash((trials, max_epochs, direction, pruner, data, space)))}.toml"
        path.write_text(
            textwrap.dedent(
                SYNTHETIC_TOML.format(
                    name=name,
                    trials=trials,
                    max_epochs=max_epochs,
                    direction=direction,
                    pruner=pruner,
                    data=data,
                    space=space,
                )
            )
        )
        return path

    return make


@pytest.fixture
def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on loopback for the session (Debian's ``postgresql`` package)."""
    import shutil
    import tempfile

    if not postgres_binary("initdb") or not postgres_binary("pg_ctl"):
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg2")
    root = Path(tempfile.mkdtemp(prefix="search-pg-"))
    server = PostgresServer(root)
    server.start()
    try:
        server.create_database()
        yield server.url
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


class PruneOddTrials(optuna.pruners.BasePruner):
    """Prunes odd-numbered trials at their first report: complete and pruned trials, deterministically."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number % 2 == 1


@pytest.fixture
def prune_odd_trials() -> PruneOddTrials:
    return PruneOddTrials()


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A finished small synthetic study, built once per session and only read by tests.

    Trials 0 and 2 complete, trial 1 is pruned after its first epoch (both through
    the real objective, so both carry their dashboard figure and note), and the
    holdout is computed (metrics, note, confusion-matrix PNG and model artifacts).
    """
    from search import evaluate_holdout, load_study_config, run_study
    from search.data import load_search_data
    from search.engine._objective import Objective
    from search.models import load_space

    root = tmp_path_factory.mktemp("finished")
    path = root / "synthetic.toml"
    path.write_text(
        textwrap.dedent(
            SYNTHETIC_TOML.format(
                name="synthetic", trials=1, max_epochs=6, direction="maximize", pruner="NopPruner", data="", space=""
            )
        )
    )
    url = f"sqlite:///{root / 'studies.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEARCH_HOME", str(root / "home"))
        mp.setenv("SEARCH_CACHE_DIR", str(root / "cache"))
        mp.delenv("SEARCH_ARTIFACTS", raising=False)
        run_study(path, storage=url, show_progress=False)
        config = load_study_config(path)
        objective = Objective(config, load_search_data(config.data, seed=config.seed), load_space(config.space_module))
        study = optuna.load_study(study_name="synthetic", storage=url, pruner=PruneOddTrials())
        study.optimize(objective, n_trials=2)
        holdout = evaluate_holdout("synthetic", storage=url, show_progress=False)
    return {"name": "synthetic", "storage": url, "holdout": holdout}


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's ``chromium``) driven by Playwright."""
    import shutil

    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


TINY_VOCAB = ["the", "a", "good", "great", "bad", "awful", "movie", "film", "plot", "acting", "The", "<br"]


@pytest.fixture(scope="session")
def tiny_text_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-token, 4-dimension TF-Hub text-embedding module with non-zero OOV rows (5 buckets)."""
    from search.models import export_text_embedding

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(TINY_VOCAB), 4)).astype(np.float32)
    out = tmp_path_factory.mktemp("hub") / "tiny"
    return export_text_embedding(TINY_VOCAB, vectors, out, num_oov_buckets=5, oov_vectors=rng.normal(size=(5, 4)))


@pytest.fixture(scope="session")
def imdb_reviews() -> dict:
    """Real reviews: the labelled training split and the unlabeled reviews, read once."""
    if not (SHARED_DATA / "aclImdb_v1.tar.gz").exists() and not (SHARED_DATA / "aclImdb").exists():
        pytest.skip(f"IMDB data not found in {SHARED_DATA} (set SEARCH_DATA_DIR)")
    from search.data._imdb import read_imdb

    path = SHARED_DATA / "aclImdb"
    return read_imdb(path if path.exists() else SHARED_DATA / "aclImdb_v1.tar.gz", splits=("train", "unsup"))


def write_table(path: Path, *, n: int = 240, seed: int = 0) -> Path:
    """A CSV with a categorical column, missing cells and two targets.

    Columns: ``x1``, ``x2`` (numbers, some missing), ``color`` (red/green/blue, some
    missing), ``size`` (numbers in text, ``?`` for missing), ``label`` (yes/no, a
    learnable rule of ``x1`` and ``color``) and ``y`` (a noisy linear function).
    """
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    size = rng.integers(1, 5, size=n)
    label = np.where(x1 + 2.0 * (color == "red") > 0.5, "yes", "no")
    y = 3.0 * x1 - 2.0 * x2 + 4.0 * (color == "blue") + 0.5 * size + rng.normal(scale=0.3, size=n)
    lines = ["x1,x2,color,size,label,y"]
    for i in range(n):
        cells = [f"{x1[i]:.4f}", f"{x2[i]:.4f}", str(color[i]), str(size[i]), str(label[i]), f"{y[i]:.4f}"]
        if i % 11 == 3:
            cells[0] = ""  # missing number
        if i % 13 == 5:
            cells[2] = ""  # missing category
        if i % 17 == 7:
            cells[3] = "?"
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def table_csv(tmp_path: Path) -> Path:
    """A generated CSV (see :func:`write_table`) in the test's folder."""
    return write_table(tmp_path / "table.csv")
