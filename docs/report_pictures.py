"""Keep the pictures in docs/report.md current: run the demo (or take an existing results
folder) and photograph the first screen of every patient's report in headless Chromium.

    .venv/bin/python docs/report_pictures.py                 # runs the demo first (~1 minute)
    .venv/bin/python docs/report_pictures.py results/        # an existing demo run

Needs the test extras (playwright) and a Chromium on PATH (docs/MACHINE.md: Debian's package);
playwright drives it, nothing is downloaded.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PICTURES = ROOT / "docs/report"
# The first screen of a laptop: what the oncologist sees before scrolling.
VIEWPORT = {"width": 1280, "height": 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, help="a demo results folder (default: run the demo)")
    args = parser.parse_args()
    results: Path = (args.results or ROOT / "results").resolve()
    if args.results is None:
        snakemake = Path(sys.executable).with_name("snakemake")
        # Forced: the logic lives in src/pgx, whose changes Snakemake does not see as rule code.
        subprocess.run([str(snakemake), "--cores", "2", "--forceall", "--directory", str(ROOT)], check=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("report_pictures: no chromium on PATH", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    reports = sorted(results.glob("*/report.html"))
    if not reports:
        print(f"report_pictures: no */report.html under {results}", file=sys.stderr)
        return 1
    PICTURES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        for report in reports:
            page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            page.goto(report.as_uri())
            target = PICTURES / f"{report.parent.name}.png"
            page.screenshot(path=str(target))
            page.close()
            print(target.relative_to(ROOT))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
