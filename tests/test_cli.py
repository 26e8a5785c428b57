"""The `pgx` command-line contracts and its behaviour on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import DEMO, write_vcf

from pgx.outputs import read_tsv

MATCH_CONTRACT = ["gene", "alteration", "match_level", "therapy", "direction", "level", "native_level",
                  "on_label", "disease", "source", "source_id", "citations"]
CALL_CONTRACT = ["sample", "gene", "diplotype", "phenotype", "activity_score", "status", "missing_positions"]


def pgx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgx.cli", *args], capture_output=True, text=True, check=False)


def test_match_straight_from_a_vcf_keeps_the_column_contract(tmp_path: Path) -> None:
    out = tmp_path / "m.tsv"
    result = pgx("match", "--vcf", str(DEMO / "MEL-01.tumor.vcf"), "--tumor-type", "SKCM", "--build", "GRCh38",
                 "--output", str(out))
    assert result.returncode == 0, result.stderr
    rows = read_tsv(out)
    assert rows and all(c in rows[0] for c in MATCH_CONTRACT)
    assert any(r["alteration"] == "V600E" and r["level"] == "A" for r in rows)


def test_diplotypes_contract_and_outside_calls(tmp_path: Path) -> None:
    outside = tmp_path / "outside.tsv"
    outside.write_text("CYP2D6\t*1/*4\tIntermediate Metabolizer\t1.0\n")
    out, guidance = tmp_path / "calls.tsv", tmp_path / "guidance.tsv"
    result = pgx("diplotypes", "--vcf", str(DEMO / "CRC-01.germline.vcf"), "--gene", "DPYD", "--gene", "TPMT",
                 "--outside-calls", str(outside), "--output", str(out), "--output-guidance", str(guidance))
    assert result.returncode == 0, result.stderr
    rows = read_tsv(out)
    assert all(c in rows[0] for c in CALL_CONTRACT)
    by_gene = {r["gene"]: r for r in rows}
    assert set(by_gene) == {"DPYD", "TPMT", "CYP2D6"}
    assert (by_gene["CYP2D6"]["source"], by_gene["CYP2D6"]["lookup_key"]) == ("outside_call", "1.0")
    tamoxifen = [g for g in read_tsv(guidance) if g["drug"] == "tamoxifen" and g["source"] == "CPIC"]
    assert tamoxifen and tamoxifen[0]["lookup_key"] == "CYP2D6=1.0"


def test_bad_input_is_one_line_nonzero_and_leaves_nothing(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "b.vcf", ["chr7 140753336 . A T . PASS . GT 0/1"])
    out_vcf, out_tsv = tmp_path / "o/a.vcf.gz", tmp_path / "o/v.tsv"
    result = pgx("annotate", "--vcf", str(vcf), "--build", "GRCh37", "--output-vcf", str(out_vcf),
                 "--output-tsv", str(out_tsv))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"pgx: error: {vcf}: header: genome build mismatch")
    assert "Traceback" not in result.stderr
    assert not out_vcf.exists() and not out_tsv.exists()
    assert not [p for p in (tmp_path / "o").iterdir()] if (tmp_path / "o").exists() else True


def test_an_output_that_cannot_be_written_is_one_line_nonzero(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "b.vcf", ["chr7 140753336 . A T . PASS . GT 0/1"])
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    result = pgx("annotate", "--vcf", str(vcf), "--build", "GRCh38", "--threads", "2",
                 "--output-vcf", str(not_a_directory / "a.vcf.gz"), "--output-tsv", str(tmp_path / "v.tsv"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pgx: error: ") and str(not_a_directory) in lines[0]
    assert not (tmp_path / "v.tsv").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["b.vcf", "file"]


def test_existing_outputs_survive_a_failed_run(tmp_path: Path) -> None:
    out = tmp_path / "m.tsv"
    out.write_text("previous\n")
    result = pgx("match", "--variants", str(tmp_path / "missing.tsv"), "--tumor-type", "NOPE", "--build", "GRCh38",
                 "--output", str(out))
    assert result.returncode == 1 and "unknown OncoTree code 'NOPE'" in result.stderr
    assert out.read_text() == "previous\n"


def test_germline_findings_are_the_same_through_the_index(tmp_path: Path) -> None:
    import shutil

    import pysam

    indexed = tmp_path / "germline.vcf"
    shutil.copy(DEMO / "MEL-01.germline.vcf", indexed)
    pysam.tabix_index(str(indexed), preset="vcf", force=True)  # region queries instead of a full read
    outs = []
    for vcf, name in ((DEMO / "MEL-01.germline.vcf", "streamed"), (Path(f"{indexed}.gz"), "indexed")):
        out = tmp_path / f"{name}.tsv"
        result = pgx("germline", "--vcf", str(vcf), "--tumor-type", "SKCM", "--build", "GRCh38", "--output", str(out))
        assert result.returncode == 0, result.stderr
        outs.append(read_tsv(out))
    assert outs[0] == outs[1]
    assert any(r["gene"] == "BRCA2" and r["therapy"] == "Olaparib" for r in outs[1])


def _options(parser: object, prefix: str = "") -> list[tuple[str, object]]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    found: list[tuple[str, object]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _options(sub, f"{prefix}{name} ")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            found.append((prefix + "/".join(action.option_strings or [action.dest]), action))
    return found


def test_every_option_has_help_and_outputs_follow_one_naming_scheme() -> None:
    import argparse

    from pgx.cli import parser

    options = [(name, action) for name, action in _options(parser()) if action.help != argparse.SUPPRESS]  # type: ignore[attr-defined]
    assert len(options) > 60
    assert [name for name, action in options if not action.help] == []  # type: ignore[attr-defined]
    writes = [name.split()[-1] for name, action in options if action.dest.startswith("output")]  # type: ignore[attr-defined]
    assert len(writes) == 15 and all(w in ("--output/-o",) or w.startswith("--output-") for w in writes), writes
    assert not [name for name, _ in options if name.endswith("-out") or "--out-" in name]


def test_former_option_names_still_work_with_one_deprecation_line(tmp_path: Path) -> None:
    result = pgx("match", "--vcf", str(DEMO / "MEL-01.tumor.vcf"), "--tumor-type", "SKCM", "--build", "GRCh38",
                 "--out", str(tmp_path / "m.tsv"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("pgx: warning:")]
    assert warnings == ["pgx: warning: --out is now --output; the old name goes in a later release"]
    assert read_tsv(tmp_path / "m.tsv")


def test_global_options_after_the_command_and_exit_codes(tmp_path: Path) -> None:
    from conftest import RESOURCES

    assert pgx("kb", "verify", "--resources", str(RESOURCES)).returncode == 0
    missing = pgx("kb", "verify", "--resources", str(tmp_path / "none"))
    assert missing.returncode == 1 and missing.stderr.startswith("pgx: error: ")
    usage = pgx("match", "--variants", "v.tsv", "--tumor-type", "LUAD")  # no --build, no --output
    assert usage.returncode == 2 and "required" in usage.stderr
    assert "Exit codes: 0 success; 1 refused input" in pgx("--help").stdout


def test_mistyped_tumor_types_and_genes_get_suggestions(tmp_path: Path) -> None:
    typo = pgx("match", "--vcf", str(DEMO / "MEL-01.tumor.vcf"), "--tumor-type", "LAUD", "--build", "GRCh38",
               "-o", str(tmp_path / "m.tsv"))
    assert typo.returncode == 1 and "did you mean LUAD (Lung Adenocarcinoma)" in typo.stderr
    by_name = pgx("match", "--vcf", str(DEMO / "MEL-01.tumor.vcf"), "--tumor-type", "melanoma", "--build", "GRCh38",
                  "-o", str(tmp_path / "m.tsv"))
    assert "did you mean MEL (Melanoma)" in by_name.stderr
    gene = pgx("diplotypes", "--vcf", str(DEMO / "CRC-01.germline.vcf"), "--gene", "CYP2C91", "-o", str(tmp_path / "d.tsv"))
    assert gene.returncode == 1 and "CYP2C91 (did you mean CYP2C9 or CYP2C19" in gene.stderr
    assert not list(tmp_path.iterdir())


def test_progress_lines_give_records_rate_and_time_left(tmp_path: Path, monkeypatch: object) -> None:
    import contextlib
    import io

    import pysam
    import pytest

    from pgx import progress
    from pgx.cli import main

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    vcf = write_vcf(tmp_path / "big.vcf", [f"chr1 {100 + i} . A G . PASS . GT:AD 0/1:10,5" for i in range(20_000)])
    pysam.tabix_compress(str(vcf), str(tmp_path / "big.vcf.gz"))
    for path in (vcf, tmp_path / "big.vcf.gz"):
        quiet, told = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(quiet):
            assert main(["validate", "--vcf", str(path), "--build", "GRCh38", "-o", str(tmp_path / "ok.txt")]) == 0
        assert quiet.getvalue() == ""  # not a terminal, not asked: silent
        with contextlib.redirect_stderr(told):
            assert main(["validate", "--progress", "--vcf", str(path), "--build", "GRCh38", "-o", str(tmp_path / "ok.txt")]) == 0
        lines = told.getvalue().splitlines()
        assert len(lines) >= 15 and all(line.startswith(f"pgx: {path.name}: ") for line in lines)
        assert "20,480 records read" not in told.getvalue() and "19,456 records read" in told.getvalue()
        assert all("/s, about " in line and line.endswith(" s left") for line in lines)
