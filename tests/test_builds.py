"""Both builds: liftover, GRCh37 input annotated on GRCh38 models, and the same matches for the
same tumor (real TCGA calls from PCGR's examples, GRCh37 and CrossMap-lifted GRCh38)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RESOURCES, SHARED, needs_shared, write_vcf

from pgx.cli import main
from pgx.liftover import LiftOver
from pgx.outputs import read_tsv

B37_HEADER = "##fileformat=VCFv4.2\n##contig=<ID=7,length=159138663>\n##contig=<ID=12,length=133851895>\n" \
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'


def test_liftover_of_known_hotspots() -> None:
    lift = LiftOver.load(RESOURCES / "liftover/GRCh37_to_GRCh38.tsv.gz")
    assert lift.lift("7", 140453136) == ("7", 140753336)  # BRAF V600E
    assert lift.lift("chr12", 25398284) == ("12", 25245350)  # KRAS G12D
    assert lift.lift_interval("7", 140453135, 140453137) == ("7", 140753335, 140753337)
    assert lift.lift("7", 10**9) is None


def test_grch37_input_is_annotated_through_liftover_and_reported_in_its_own_coordinates(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "b37.vcf", ["7 140453136 . A T . PASS . GT 0/1"], header=B37_HEADER)
    assert main(["annotate", "--vcf", str(vcf), "--build", "GRCh37", "--output-vcf", str(tmp_path / "a.vcf.gz"),
                 "--output-tsv", str(tmp_path / "v.tsv")]) == 0
    (row,) = read_tsv(tmp_path / "v.tsv")
    assert (row["chrom"], row["pos"], row["gene"], row["protein_change"]) == ("7", "140453136", "BRAF", "V600E")
    assert "via liftover" in row["annotation_note"]


def _matches(tmp_path: Path, build: str, tumor: str = "COAD") -> set[tuple[str, str, str, str]]:
    vcf = SHARED / f"somatic/cases/pcgr/T001-{tumor}.{build.lower()}.vcf.gz"
    out = tmp_path / build
    assert main(["annotate", "--vcf", str(vcf), "--build", build, "--output-vcf", str(out / "a.vcf.gz"),
                 "--output-tsv", str(out / "v.tsv")]) == 0
    assert main(["match", "--variants", str(out / "v.tsv"), "--tumor-type", tumor, "--build", build,
                 "--output", str(out / "m.tsv")]) == 0
    return {(r["gene"], r["alteration"], r["source_id"], r["therapy"]) for r in read_tsv(out / "m.tsv")}


@needs_shared
def test_same_tumor_in_both_builds_gives_the_same_matches(tmp_path: Path) -> None:
    grch37, grch38 = _matches(tmp_path, "GRCh37"), _matches(tmp_path, "GRCh38")
    assert grch37 == grch38 and len(grch37) > 50
    braf = {(t, s) for g, a, s, t in grch38 if g == "BRAF" and a == "V600E"}
    assert ("Encorafenib + Cetuximab", "EID7290") in braf or any(t == "Encorafenib + Cetuximab" for t, _ in braf)


@needs_shared
def test_braf_v600e_colorectal_in_the_real_tcga_case(tmp_path: Path) -> None:
    _matches(tmp_path, "GRCh38")
    rows = read_tsv(tmp_path / "GRCh38/m.tsv")
    combo = [r for r in rows if r["therapy"] == "Encorafenib + Cetuximab" and r["alteration"] == "V600E"]
    assert combo and combo[0]["level"] == "A" and combo[0]["on_label"] == "true"
    against = {r["therapy"] for r in rows if r["gene"] == "BRAF" and r["direction"] in ("resistance", "no_benefit")}
    assert against & {"Cetuximab", "Panitumumab"} or pytest.fail(f"no anti-EGFR resistance: {against}")
