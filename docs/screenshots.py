"""Make ``docs/dashboard.png`` and ``docs/report.png`` from a finished study.

Run from the repository root, on a study that has its holdout computed:

    python docs/screenshots.py imdb-bow --storage sqlite:////tmp/docs/studies.db

It starts ``python -m search dashboard`` on a free loopback port, photographs the
study page in headless Chromium (Debian's ``chromium``, driven by Playwright),
writes the HTML report and photographs its top sections. The pictures are saved
as palette PNGs so they stay small.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
from tests._helpers import CHROMIUM_ARGS  # noqa: E402  (the flags the browser tests use)


def _small_png(png: bytes, path: Path, width: int) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    print(f"{path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "search", "dashboard", "--storage", args.storage, "--port", str(port)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=5) as response:
                    studies = json.load(response)["study_summaries"]
                break
            except OSError:
                time.sleep(0.5)
        study_id = next(s["study_id"] for s in studies if s["study_name"] == args.study)
        with tempfile.TemporaryDirectory() as folder:
            report = subprocess.run(
                [sys.executable, "-m", "search", "report", args.study, "--storage", args.storage, "--out", folder],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 2250})
                page.goto(f"{base}/dashboard/studies/{study_id}")
                page.get_by_text("Study Artifacts").wait_for(timeout=60_000)
                page.wait_for_timeout(3000)  # let plotly finish drawing
                _small_png(page.screenshot(), DOCS / "dashboard.png", width=1000)
                page = browser.new_page(viewport={"width": 1200, "height": 1000})
                page.goto(Path(report).as_uri())
                page.wait_for_timeout(3000)
                _small_png(page.screenshot(full_page=True), DOCS / "report.png", width=800)
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
