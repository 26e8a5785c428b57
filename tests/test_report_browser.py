"""Every demo report in a real headless Chromium: no console error, no request leaving the file,
sorting and filtering work, and it prints to PDF. Screenshots are kept for a human to look at."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

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


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


@pytest.mark.parametrize("patient", ["MEL-01", "LUNG-01", "CRC-01"])
def test_report_renders_without_errors(browser, demo_run: Path, patient: str) -> None:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / patient / "report.html")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{patient}.png"), full_page=True)
    headings = page.locator("h2").all_inner_texts()
    assert headings[:4] == ["Key findings", "Therapies to discuss", "Resistance and no benefit",
                            "Germline findings relevant to therapy"]
    assert "Limitations and disclaimer" in headings and "Evidence detail" in headings
    # The tiles count the rows the tables show.
    for tile, table in (("#tile-discuss", "#tbl-therapies"), ("#tile-resistance", "#tbl-resistance")):
        assert int(page.locator(f"{tile} .n").inner_text()) == page.locator(f"{table} tbody tr").count()
    table = page.locator("#tbl-therapies tbody tr")
    if table.count() > 1:
        page.click("#tbl-therapies th:has-text('Therapy')")
        first = page.locator("#tbl-therapies tbody tr td:nth-child(1)").all_inner_texts()
        assert first == sorted(first, key=str.lower) or first == sorted(first)
    # Evidence detail opens without JavaScript's help (details/summary).
    groups = page.locator("details.evidence")
    if groups.count():
        groups.first.locator("summary").click()
        assert groups.first.locator("tbody tr").first.is_visible()
    pdf = page.pdf(path=str(SCREENSHOTS / f"{patient}.pdf"), format="A4")
    assert pdf[:4] == b"%PDF"
    page.close()
    assert problems == []


def _findings(browser, demo_run: Path, patient: str) -> list[str]:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / patient / "report.html")
    items = page.locator("#key-findings li").all_inner_texts()
    page.close()
    assert problems == []
    return items


def test_lung_key_findings_name_osimertinib_and_erlotinib_conflicting(browser, demo_run: Path) -> None:  # type: ignore[no-untyped-def]
    findings = _findings(browser, demo_run, "LUNG-01")
    assert findings[0].startswith("Osimertinib")
    erlotinib = next(f for f in findings if f.startswith("Erlotinib —"))
    assert "conflicting" in erlotinib and "T790M" in erlotinib
    assert not any(f.startswith("Erlotinib —") and "sensitivity" in f.split(",")[0] for f in findings)


def test_crc_level_a_resistance_before_any_level_b_sensitivity(browser, demo_run: Path) -> None:  # type: ignore[no-untyped-def]
    findings = _findings(browser, demo_run, "CRC-01")
    resistance_a = [i for i, f in enumerate(findings) if "resistance" in f and "level A" in f
                    and ("Cetuximab" in f or "Panitumumab" in f)]
    sensitivity_b = [i for i, f in enumerate(findings) if "sensitivity" in f and "level B" in f]
    assert resistance_a and (not sensitivity_b or max(resistance_a) < min(sensitivity_b))


def test_melanoma_germline_brca2_olaparib_on_the_first_screen(browser, demo_run: Path) -> None:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / "MEL-01" / "report.html")
    line = page.locator("#key-findings li", has_text="c.5946del").filter(has_text="Olaparib").first
    assert line.is_visible() and "germline" in line.inner_text()
    box = line.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 1000  # inside the first 1280x1000 screen
    assert int(page.locator("#tile-germline .n").inner_text()) >= 1
    page.close()
    assert problems == []


def test_melanoma_report_prints_in_at_most_6_a4_pages(browser, demo_run: Path) -> None:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / "MEL-01" / "report.html")
    pdf = page.pdf(format="A4")
    page.close()
    assert pdf_pages(pdf) <= 6, pdf_pages(pdf)


def test_cohort_summary_renders_without_errors(browser, demo_run: Path) -> None:  # type: ignore[no-untyped-def]
    page, problems = open_page(browser, demo_run / "cohort/summary.html")
    page.screenshot(path=str(SCREENSHOTS / "cohort.png"), full_page=True)
    links = page.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert sorted(links) == ["../CRC-01/report.html", "../LUNG-01/report.html", "../MEL-01/report.html"]
    assert all((demo_run / "cohort" / link).resolve().exists() for link in links)
    page.close()
    assert problems == []
