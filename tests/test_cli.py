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
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = read_tsv(out)
    assert rows and all(c in rows[0] for c in MATCH_CONTRACT)
    assert any(r["alteration"] == "V600E" and r["level"] == "A" for r in rows)


def test_diplotypes_contract_and_outside_calls(tmp_path: Path) -> None:
    outside = tmp_path / "outside.tsv"
    outside.write_text("CYP2D6\t*1/*4\tIntermediate Metabolizer\t1.0\n")
    out, guidance = tmp_path / "calls.tsv", tmp_path / "guidance.tsv"
    result = pgx("diplotypes", "--vcf", str(DEMO / "CRC-01.germline.vcf"), "--gene", "DPYD", "--gene", "TPMT",
                 "--outside-calls", str(outside), "--out", str(out), "--guidance-out", str(guidance))
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
    result = pgx("annotate", "--vcf", str(vcf), "--build", "GRCh37", "--out-vcf", str(out_vcf),
                 "--out-tsv", str(out_tsv))
    assert result.returncode == 2
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
                 "--out-vcf", str(not_a_directory / "a.vcf.gz"), "--out-tsv", str(tmp_path / "v.tsv"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pgx: error: ") and str(not_a_directory) in lines[0]
    assert not (tmp_path / "v.tsv").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["b.vcf", "file"]


def test_existing_outputs_survive_a_failed_run(tmp_path: Path) -> None:
    out = tmp_path / "m.tsv"
    out.write_text("previous\n")
    result = pgx("match", "--variants", str(tmp_path / "missing.tsv"), "--tumor-type", "NOPE", "--build", "GRCh38",
                 "--out", str(out))
    assert result.returncode == 2 and "unknown OncoTree code 'NOPE'" in result.stderr
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
        result = pgx("germline", "--vcf", str(vcf), "--tumor-type", "SKCM", "--build", "GRCh38", "--out", str(out))
        assert result.returncode == 0, result.stderr
        outs.append(read_tsv(out))
    assert outs[0] == outs[1]
    assert any(r["gene"] == "BRCA2" and r["therapy"] == "Olaparib" for r in outs[1])
