"""Text from inputs is data: links only with http(s), bidi controls shown rather than obeyed, and
table cells that a spreadsheet would run as formulas made inert."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_user_kb, write_vcf
from test_columnar import both_lanes

from pgx.cli import main
from pgx.match import read_variants
from pgx.outputs import inert, read_tsv, write_tsv_atomic
from pgx.vcf import Filters

RLO = "\u202e"


@pytest.mark.parametrize("value,written", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+cmd", "'+cmd"), ("@SUM(A1)", "'@SUM(A1)"),
    ("-1+1", "'-1+1"), ("-0.25", "-0.25"), ("-", "-"), ("1e-5", "1e-5"), ("c.-14C>T", "c.-14C>T"),
    ("'=x", "''=x"), ("'plain", "'plain"), ("", ""),
])
def test_formula_cells_are_inert_and_read_back_exactly(tmp_path: Path, value: str, written: str) -> None:
    assert inert(value) == written
    write_tsv_atomic(tmp_path / "t.tsv", ["a"], [{"a": value}])
    assert (tmp_path / "t.tsv").read_text().splitlines()[1] == written
    assert read_tsv(tmp_path / "t.tsv") == [{"a": value}]


def test_variant_ids_and_filters_from_the_vcf_are_inert_in_both_lanes(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    vcf = write_vcf(tmp_path / "t.vcf", [
        "chr7 140753336 =HYPERLINK(\"http://evil\") A T . PASS . GT:AD 0/1:10,10",
        "chr12 25245350 @cmd C T . +bad . GT:AD 0/1:10,10",
    ], extra_header='##FILTER=<ID=+bad,Description="x">\n')
    outputs, _ = both_lanes(vcf, tmp_path, monkeypatch, filters=Filters(require_pass=False))
    lines = outputs["v.tsv"].decode().splitlines()
    rows = [line.split("\t") for line in lines if not line.startswith("##")]
    assert [r[2] for r in rows[1:]] == ["'=HYPERLINK(\"http://evil\")", "'@cmd"]
    assert [r[7] for r in rows[1:]] == ["PASS", "'+bad"]
    (tmp_path / "v.tsv").write_bytes(outputs["v.tsv"])
    assert [r["id"] for r in read_variants(str(tmp_path / "v.tsv"))] == ["=HYPERLINK(\"http://evil\")", "@cmd"]


def test_a_user_knowledge_base_cannot_put_script_links_or_bidi_tricks_in_the_report(tmp_path: Path) -> None:
    lab = write_user_kb(tmp_path / "lab", "BRAF", "V600E", f"Melanoma {RLO}gnp.exe", "DOID:1909",
                        therapy=f"Labinib{RLO}", url="javascript:alert(document.cookie)",
                        source={"name": "LabKB", "version": "1", "license": "internal", "url": "javascript:alert(2)"})
    vcf = write_vcf(tmp_path / "t.vcf", ["chr7 140753336 . A T . PASS . GT:AD 0/1:10,10"])
    assert main(["annotate", "--vcf", str(vcf), "--build", "GRCh38", "--output-vcf", str(tmp_path / "a.vcf.gz"),
                 "--output-tsv", str(tmp_path / "v.tsv")]) == 0
    assert main(["match", "--variants", str(tmp_path / "v.tsv"), "--extra-kb", str(lab), "--build", "GRCh38",
                 "--tumor-type", "SKCM", "--output", str(tmp_path / "m.tsv")]) == 0
    assert any(r["source"] == "LabKB" for r in read_tsv(tmp_path / "m.tsv"))
    assert main(["report", "--patient", f"P{RLO}1", "--tumor-type", "SKCM", "--build", "GRCh38",
                 "--variants", str(tmp_path / "v.tsv"), "--matches", str(tmp_path / "m.tsv"),
                 "--output-json", str(tmp_path / "r.json"), "--output-html", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "LAB-1" in html and "Labinib" in html
    assert "javascript:" not in html
    assert {m for m in re.findall(r'href="([a-z]+):', html)} <= {"http", "https"}
    assert RLO not in html and "[U+202E]" in html
