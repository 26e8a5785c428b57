"""The hts-specs conformance suite and cyvcf2's edge cases, end to end through `pgx annotate`:
each file is read, or refused with one line naming the file and the cause; never a traceback,
never a partial output."""

from __future__ import annotations

import collections
import contextlib
import io
from pathlib import Path

import pytest
from conftest import SHARED, needs_shared

from pgx.cli import main

EDGE = SHARED / "reference/vcf-edge"
# Why a file the suite calls valid may still be refused: these are decisions, not accidents.
ACCEPTED_REFUSALS = ("neither GRCh37 nor GRCh38", "genome build mismatch", "file is empty",
                     "cannot parse VCF header", "sort the input first",
                     # GT 0|1 on a record with no ALT (the suite's validator does not check
                     # genotype indices), and a last line without its newline (a cut file looks
                     # the same): both read as damage.
                     "names an allele the record does not have", "does not end with a newline")

pytestmark = pytest.mark.slow


def _annotate(path: Path, out: Path, tumor_sample: str | None = None) -> tuple[int, list[str]]:
    err = io.StringIO()
    argv = ["annotate", "--vcf", str(path), "--build", "GRCh38", "--output-vcf", str(out / "a.vcf.gz"),
            "--output-tsv", str(out / "v.tsv")] + (["--tumor-sample", tumor_sample] if tumor_sample else [])
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.strip()]


@needs_shared
def test_conformance_suite(tmp_path: Path) -> None:
    files = sorted(p for p in EDGE.rglob("*") if p.is_file() and p.suffix in (".vcf", ".gz", ".bcf"))
    assert len(files) > 600
    counts: collections.Counter[str] = collections.Counter()
    problems = []
    for path in files:
        code, lines = _annotate(path, tmp_path)
        if code == 1 and "no tumor sample named" in lines[-1]:
            # A multi-sample file needs its tumor column named, as the sample sheet does.
            first = lines[-1].split("[", 1)[1].split("'")[1]
            code, lines = _annotate(path, tmp_path, tumor_sample=first)
        group = "invalid" if "/failed/" in str(path) else "valid"
        outputs = sorted(p.name for p in tmp_path.iterdir())
        if code == 0:
            counts[f"{group}: read"] += 1
            assert {"a.vcf.gz", "a.vcf.gz.tbi", "v.tsv"} <= set(outputs), path
        elif code == 1:
            counts[f"{group}: refused"] += 1
            errors = [line for line in lines if line.startswith("pgx: error: ")]
            if len(errors) != 1 or str(path) not in errors[0]:
                problems.append(f"{path}: unclear refusal {lines}")
            if outputs:
                problems.append(f"{path}: refused but left {outputs}")
            if group == "valid" and not any(r in errors[0] for r in ACCEPTED_REFUSALS):
                problems.append(f"{path}: valid file refused: {errors[0]}")
        else:
            problems.append(f"{path}: exit code {code}")
        for p in tmp_path.iterdir():
            p.unlink()
    print("\nvcf-edge:", dict(sorted(counts.items())))
    assert problems == []


@needs_shared
def test_unsorted_input_is_refused_without_leftovers(tmp_path: Path) -> None:
    unsorted = next((EDGE / "hts-specs").rglob("failed_body_unsorted_000.vcf"), None)
    if unsorted is None:
        pytest.skip("no unsorted case in this copy of the suite")
    code, lines = _annotate(unsorted, tmp_path, tumor_sample="HG00096")
    assert code == 1
    assert "sort the input first" in lines[-1] and str(unsorted) in lines[-1]
    assert not list(tmp_path.iterdir())


@needs_shared
def test_conformance_suite_through_the_germline_readers(tmp_path: Path) -> None:
    """`validate --role germline` reads every file of the suite or refuses it in one line, and
    `diplotypes` reads every file validation accepted (it reads only the genes' regions of an
    indexed file, so it may pass what validation refuses)."""
    files = sorted(p for p in EDGE.rglob("*") if p.is_file() and p.suffix in (".vcf", ".gz", ".bcf"))
    outcomes: collections.Counter[str] = collections.Counter()
    problems = []
    for path in files:
        codes = []
        for argv in (["validate", "--role", "germline", "--vcf", str(path), "--build", "GRCh38",
                      "--output", str(tmp_path / "ok.txt")],
                     ["diplotypes", "--vcf", str(path), "--gene", "TPMT", "--output", str(tmp_path / "d.tsv")]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            lines = [line for line in err.getvalue().splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith("pgx: error: ")]
            if any("Traceback" in line or "unexpected failure" in line for line in lines):
                problems.append(f"{path} {argv[0]}: {lines}")
            if code != 0 and (len(errors) != 1 or list(tmp_path.iterdir())):
                problems.append(f"{path} {argv[0]}: unclear refusal or leftovers {lines}")
            codes.append(code)
            for p in tmp_path.iterdir():
                p.unlink()
            if code != 0:
                break
        outcomes["validated and called" if codes == [0, 0] else "refused by validate" if codes[0] else "disagree"] += 1
        if codes[0] == 0 and codes[1] != 0:
            problems.append(f"{path}: validate accepted what diplotypes refused")
    print("\nconformance through germline readers:", dict(outcomes))
    assert problems == [], "\n".join(problems)
