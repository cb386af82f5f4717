"""The HTML report: self-contained, every section present, opens in Chromium without errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import search
from search import SearchError, load_study, run_study, write_report
from search.data import name_key
from search.results._html_report import SECTIONS

REPO = Path(__file__).resolve().parents[2]


def test_report_opens_in_a_browser_with_every_section(finished_study: dict, browser, tmp_path: Path) -> None:
    path = write_report(finished_study["name"], storage=finished_study["storage"], out=tmp_path)
    assert path == tmp_path / f"{name_key('synthetic')}.html"
    page_text = path.read_text(encoding="utf-8")
    # Self-contained: plotly.js inlined once, no external script, style sheet or picture.
    assert page_text.count("* plotly.js v") == 1 and page_text.count("Plotly.newPlot") >= 6
    assert not re.search(r"<(script|img|link|iframe)[^>]*\b(src|href)=", page_text)

    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")

    assert [page.locator(f"section#{s}").count() for s in SECTIONS] == [1] * len(SECTIONS)
    for section, figure in [
        ("optimization-history", "fig-optimization-history"),
        ("param-importances", "fig-param-importances"),
        ("parallel-coordinates", "fig-parallel-coordinates"),
        ("learning-curves", "fig-learning-curves"),
        ("learning-curves", "fig-intermediate-values"),
        ("holdout", "fig-confusion-matrix"),
    ]:
        # plotly.js drew it: an SVG inside the figure's div, inside its section.
        page.locator(f"section#{section} #{figure} .main-svg").first.wait_for(timeout=30_000)

    study, _ = load_study(finished_study["name"], storage=finished_study["storage"])
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    legend = page.locator("#fig-learning-curves .legend .legendtext").all_text_contents()
    assert sorted(legend) == sorted(f"trial {t.number} {kind}" for t in complete for kind in ("validation", "train"))
    assert "only 2 completed trials" in page.locator("section#param-importances").inner_text()

    holdout = finished_study["holdout"]
    text = page.locator("section#holdout").inner_text()
    for label, key in [("accuracy", "accuracy"), ("precision", "precision"), ("recall", "recall"), ("F1", "f1")]:
        assert f"{label}\t{holdout[key]:.4f}" in text
    assert "Per class" in text and holdout["model_path"] in text
    cells = page.locator("#fig-confusion-matrix text").all_text_contents()
    for count in (v for row in holdout["confusion_matrix"] for v in row):
        assert f"{count:,}" in cells
    trials = page.locator("section#trials tbody tr")
    assert trials.count() == 3 and "pruned" in trials.nth(1).inner_text()

    page.screenshot(path=tmp_path / "report.png", full_page=True)
    page.close()
    assert console == []
    assert all(url.startswith("file://") for url in requests), requests
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_report_of_a_young_study_says_what_is_missing(make_study, storage: str, tmp_path: Path) -> None:
    run_study(make_study(trials=1, max_epochs=2), storage=storage, show_progress=False)
    path = write_report("synthetic", storage=storage, out=tmp_path / "out" / "young.html")
    assert path == tmp_path / "out" / "young.html"
    page = path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert "Holdout not computed yet" in page and "python -m search holdout synthetic" in page
    assert "Parameter importances need at least 2 completed trials; this study has 1" in page
    assert 'id="fig-learning-curves"' in page and 'id="fig-confusion-matrix"' not in page


def test_report_default_folder_and_errors(make_study, storage: str) -> None:
    assert "write_report" in search.__all__
    with pytest.raises(SearchError, match="no study database"):
        write_report("synthetic", storage=storage)
    run_study(make_study(trials=1, max_epochs=1), storage=storage, show_progress=False)
    path = write_report("synthetic", storage=storage)
    assert path == Path(storage.removeprefix("sqlite:///") + ".artifacts") / "reports" / f"{name_key('synthetic')}.html"
    with pytest.raises(SearchError, match="no study 'other'"):
        write_report("other", storage=storage)


def test_report_command(finished_study: dict, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "search", *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=300,
        )

    done = cli("report", "synthetic", "--storage", finished_study["storage"], "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / f"{name_key('synthetic')}.html")
    assert (tmp_path / f"{name_key('synthetic')}.html").stat().st_size > 1_000_000  # plotly.js is inside
    missing = cli("report", "nope", "--storage", finished_study["storage"])
    assert missing.returncode == 2 and missing.stderr.strip() == (
        f"error: no study 'nope' in {finished_study['storage']} (studies there: synthetic)"
    )
