"""Every demo report in a real headless Chromium: no console error, no request leaving the file,
sorting and filtering work, and it prints to PDF. Screenshots are kept for a human to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("PGX_SCREENSHOTS", ROOT / "tests/screenshots"))
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        # The test set-up installs Debian's Chromium (no browser download at run time).
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, capture_output=True,
                       env=env, timeout=600)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get)")


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    playwright = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def open_page(browser, path: Path):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: problems.append(f"request left the file: {r.url}") if not r.url.startswith("file://") else None)
    page.goto(path.as_uri())
    return page, problems


@pytest.mark.parametrize("patient", ["MEL-01", "LUNG-01", "CRC-01"])
def test_report_renders_without_errors(browser, demo_run: Path, patient: str) -> None:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / patient / "report.html")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{patient}.png"), full_page=True)
    headings = page.locator("h2").all_inner_texts()
    assert headings[:3] == ["Key findings", "Therapeutic sensitivity", "Resistance and no-benefit evidence"]
    assert "Limitations and disclaimer" in headings
    table = page.locator("#tbl-sensitivity tbody tr")
    if table.count() > 1:
        page.click("#tbl-sensitivity th:has-text('Therapy')")
        first = page.locator("#tbl-sensitivity tbody tr td:nth-child(6)").all_inner_texts()
        assert first == sorted(first, key=str.lower) or first == sorted(first)
        page.fill("input[data-table='tbl-sensitivity']", "zzzz-no-such-drug")
        assert page.locator("#tbl-sensitivity tbody tr:visible").count() == 0
    pdf = page.pdf(path=str(SCREENSHOTS / f"{patient}.pdf"))
    assert pdf[:4] == b"%PDF"
    page.close()
    assert problems == []


def test_cohort_summary_renders_without_errors(browser, demo_run: Path) -> None:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / "cohort/summary.html")
    page.screenshot(path=str(SCREENSHOTS / "cohort.png"), full_page=True)
    links = page.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert sorted(links) == ["../CRC-01/report.html", "../LUNG-01/report.html", "../MEL-01/report.html"]
    assert all((demo_run / "cohort" / link).resolve().exists() for link in links)
    page.close()
    assert problems == []
