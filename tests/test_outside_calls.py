"""Outside calls translated as PharmCAT does, genes nobody called reported as not tested, and
PharmCAT's documented example (VCF + outsideCall.tsv → report.json) reproduced gene by gene and
drug by drug."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RESOURCES, SHARED, needs_shared, write_vcf

from pgx.cli import main
from pgx.outputs import read_tsv
from pgx.pharmacogenes import (
    guidance,
    hla_alleles_of_interest,
    load_phenotypes,
    load_recommendations,
    not_tested,
    read_outside_calls,
)

EXAMPLE = SHARED / "pgx/pharmcat/docs/examples"
# Guidance the example report (PharmCAT 3.x data) has and the bundled guideline data (PharmCAT
# v2.12.0, 2024-03-25) does not: newer guidelines, not a matching difference.
NOT_IN_BUNDLED_DATA = {
    ("CPIC", "hydralazine"): "CPIC NAT2-hydralazine guideline is newer than the bundled data",
    ("CPIC", "metoprolol"): "CPIC CYP2D6-metoprolol guideline is newer than the bundled data",
    ("CPIC", "warfarin"): "PharmCAT reports CPIC warfarin as a pointer to its own algorithm, with no lookup",
    ("DPWG", "atazanavir"): "DPWG UGT1A1-atazanavir rows are newer than the bundled data",
    ("DPWG", "mavacamten"): "DPWG CYP2C19-mavacamten guideline is newer than the bundled data",
    ("DPWG", "rosuvastatin"): "DPWG SLCO1B1-rosuvastatin rows are newer than the bundled data",
}
# DPWG's classification was 'N/A' in the bundled data and is 'Unspecified' in PharmCAT 3.x.
SAME_CLASSIFICATION = {"N/A": "Unspecified"}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    if not EXAMPLE.is_dir():
        pytest.skip(f"public data folder {SHARED} is absent")
    out = tmp_path_factory.mktemp("example")
    assert main(["diplotypes", "--vcf", str(EXAMPLE / "pharmcat.example.vcf"), "--output", str(out / "calls.tsv"),
                 "--outside-calls", str(EXAMPLE / "pharmcat.example.outsideCall.tsv"),
                 "--output-guidance", str(out / "guidance.tsv")]) == 0
    return {c["gene"]: c for c in read_tsv(out / "calls.tsv")}, read_tsv(out / "guidance.tsv")


def _pharmcat() -> dict:
    return json.loads((EXAMPLE / "pharmcat.example.report.json").read_text())


@needs_shared
def test_example_every_gene_equals_pharmcat(example) -> None:  # type: ignore[no-untyped-def]
    calls, _ = example
    checked = 0
    for gene, report in _pharmcat()["genes"].items():
        (expected,) = report["recommendationDiplotypes"]
        ours = calls[gene]
        checked += 1
        if expected["label"] == "Unknown/Unknown":  # nothing supplied: PharmCAT's "No Result"
            assert ours["status"] == "not_tested" and ours["diplotype"] == "", gene
            continue
        assert ours["diplotype"] == expected["label"], gene
        phenotypes = [p for p in expected["phenotypes"] if p != "n/a"]
        if gene == "HLA-B":
            # pgx also reports *15:11 (a DPWG carbamazepine key); PharmCAT lists three alleles.
            assert set(phenotypes) <= set(ours["phenotype"].split("; ")), gene
        elif gene == "MT-RNR1":
            # PharmCAT's 'n/a': '1555A>G' is not an MT-RNR1 allele name (m.1555A>G); pgx says so.
            assert ours["status"] == "not_called" and "not in the MT-RNR1 phenotype data" in ours["notes"]
        else:
            assert ours["phenotype"] == "; ".join(phenotypes), gene
        if expected.get("activityScore"):
            assert ours["activity_score"] == expected["activityScore"], gene
    assert checked == 23


def _keys(lookup: dict[str, str]) -> frozenset[str]:
    return frozenset(lookup)


@needs_shared
def test_example_every_cpic_and_dpwg_drug_equals_pharmcat(example) -> None:  # type: ignore[no-untyped-def]
    _, rows = example
    ours: dict[tuple[str, str], set[tuple[frozenset[str], str]]] = {}
    for r in rows:
        genes = frozenset(g.split("=")[0] for g in r["lookup_key"].split(";"))
        ours.setdefault((r["source"], r["drug"]), set()).add(
            (genes, SAME_CLASSIFICATION.get(r["classification"], r["classification"])))
    compared = 0
    for section, source in (("CPIC Guideline Annotation", "CPIC"), ("DPWG Guideline Annotation", "DPWG")):
        for drug, entry in _pharmcat()["drugs"][section].items():
            if (source, drug) in NOT_IN_BUNDLED_DATA:
                assert (source, drug) not in ours, (source, drug)
                continue
            expected = {(_keys(key), a["classification"]) for g in entry["guidelines"]
                        for a in g["annotations"] for key in a["lookupKey"]}
            assert ours.get((source, drug), set()) == expected, (source, drug)
            compared += 1
    assert compared >= 130


@needs_shared
def test_hla_b_1502_carrier_is_told_not_to_use_phenytoin(example) -> None:  # type: ignore[no-untyped-def]
    _, rows = example
    phenytoin = [r for r in rows if r["drug"] == "phenytoin" and r["source"] == "CPIC"]
    assert phenytoin and all("HLA-B=*15:02 positive" in r["lookup_key"] for r in phenytoin)
    assert any("do not use phenytoin" in r["recommendation"] for r in phenytoin)
    assert not any(r["recommendation"].startswith("No adjustments") for r in phenytoin)
    tamoxifen = [r for r in rows if r["drug"] == "tamoxifen" and r["source"] == "CPIC"]
    assert [r["lookup_key"] for r in tamoxifen] == ["CYP2D6=1.0"]


def _outside(tmp_path: Path, text: str) -> list:  # type: ignore[type-arg]
    path = tmp_path / "outside.tsv"
    path.write_text(text)
    recommendations = load_recommendations(RESOURCES)
    return read_outside_calls(str(path), "S1", load_phenotypes(RESOURCES, outside_calls=True),
                              hla_alleles_of_interest(recommendations))


def test_cyp2d6_diplotype_and_score_only_lines(tmp_path: Path) -> None:
    (call,) = _outside(tmp_path, "CYP2D6\t*4/*1x2\n")
    assert (call.phenotype, call.activity_score, call.lookup_key) == ("Normal Metabolizer", "2.0", "2.0")
    (score,) = _outside(tmp_path, "CYP2D6\t\t\t0.5\n")
    assert (score.phenotype, score.lookup_key, score.status) == ("Intermediate Metabolizer", "0.5", "called")
    (poor,) = _outside(tmp_path, "CYP2D6\t*4/*4\n")
    assert (poor.phenotype, poor.activity_score) == ("Poor Metabolizer", "0.0")


def test_hla_statuses_from_the_diplotype(tmp_path: Path) -> None:
    (call,) = _outside(tmp_path, "HLA-B\t*57:01/*44:02\n")
    statuses = call.lookup_key.split("; ")
    assert "*57:01 positive" in statuses and "*15:02 negative" in statuses and "*58:01 negative" in statuses
    rows = guidance([call], load_recommendations(RESOURCES), set())
    abacavir = [r for r in rows if r["drug"] == "abacavir" and r["source"] == "CPIC"]
    assert abacavir and abacavir[0]["classification"] == "Strong" and abacavir[0]["caution"]


def test_several_lines_for_one_gene_are_several_results_all_shown(tmp_path: Path) -> None:
    # PharmCAT's Cyp2d6Test.testCyp2d6DoubleCall: *1/*1 (NM) and *1/*1x7 (UM, *1x≥3).
    (call,) = _outside(tmp_path, "CYP2D6\t*1/*1\nCYP2D6\t*1/*1x7\n")
    assert [a.phenotype for a in call.alternatives] == ["Normal Metabolizer", "Ultrarapid Metabolizer"]
    assert call.diplotype == "*1/*1 OR *1/*1x7" and call.status == "called"
    rows = [r for r in guidance([call], load_recommendations(RESOURCES), set())
            if r["drug"] == "codeine" and r["source"] == "CPIC"]
    assert {r["lookup_key"] for r in rows} == {"CYP2D6=2.0", "CYP2D6=≥4.0"}


def test_untested_gene_gets_an_explicit_row_and_no_result_guidance() -> None:
    recommendations = load_recommendations(RESOURCES)
    rows = guidance([not_tested("CYP2D6", "S1"), not_tested("HLA-B", "S1"), not_tested("HLA-A", "S1")],
                    recommendations, {"tamoxifen"})
    tamoxifen = [r for r in rows if r["drug"] == "tamoxifen"]
    assert tamoxifen and all(r["classification"] == "No result" for r in tamoxifen)
    assert "CYP2D6 not tested" in str(tamoxifen[0]["recommendation"])
    assert rows[0]["drug"] == "tamoxifen"  # proposed by matching: first
    assert not any(str(r["recommendation"]).startswith("No adjustments") for r in rows)


@needs_shared
def test_diplotypes_lists_cyp2d6_and_hla_as_not_tested_without_outside_calls(tmp_path: Path) -> None:
    assert main(["diplotypes", "--vcf", str(EXAMPLE / "pharmcat.example.vcf"), "--output", str(tmp_path / "c.tsv"),
                 "--output-guidance", str(tmp_path / "g.tsv")]) == 0
    calls = {c["gene"]: c for c in read_tsv(tmp_path / "c.tsv")}
    for gene in ("CYP2D6", "HLA-A", "HLA-B", "MT-RNR1"):
        assert calls[gene]["status"] == "not_tested" and "outside call" in calls[gene]["notes"]
    guidance_rows = read_tsv(tmp_path / "g.tsv")
    phenytoin = [r for r in guidance_rows if r["drug"] == "phenytoin" and r["source"] == "CPIC"]
    assert phenytoin and all("HLA-B=No Result" in r["lookup_key"] for r in phenytoin)  # CPIC's own row
    assert [r["classification"] for r in guidance_rows if r["drug"] == "tamoxifen"] == ["No result", "No result"]


def test_missing_as_reference_never_fills_a_whole_gene(tmp_path: Path) -> None:
    from pgx.pharmacogenes import call_vcf

    # A VCF that reaches CYP2C19 at two positions only (rs12248560 *17; rs3758581 G/G, which
    # makes the GRCh38 reference *38 a *1), and no other gene.
    vcf = write_vcf(tmp_path / "one.vcf", ["chr10 94761900 rs12248560 C T . PASS . GT 0/1",
                                           "chr10 94842866 rs3758581 A G . PASS . GT 1/1"],
                    header="##fileformat=VCFv4.2\n##contig=<ID=chr10,length=133797422>\n"
                           '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n')
    calls = {c.gene: c for c in call_vcf(str(vcf), RESOURCES, missing_as_reference=True)}
    assert calls["CYP2C19"].status == "called" and calls["CYP2C19"].assumed_reference
    assert calls["CYP2C19"].diplotype == "*1/*17"
    assert len(calls["CYP2C19"].missing) == calls["CYP2C19"].tested - 2  # filled, and counted
    for gene in ("CYP2C9", "DPYD", "TPMT"):
        assert calls[gene].status == "not_called" and "not tested" in "; ".join(calls[gene].notes), gene
        assert not calls[gene].assumed_reference


def test_a_phenotype_alone_is_looked_up_by_every_activity_score_it_covers(tmp_path: Path) -> None:
    # PharmCAT's Cyp2d6Test.testCyp2d6PhenotypeHasMultipleActivityScore.
    (call,) = _outside(tmp_path, "CYP2D6\t\tIntermediate Metabolizer\n")
    assert [a.lookup_key for a in call.alternatives] == ["0.25", "0.5", "0.75", "1.0"]
    assert call.status == "called" and call.activity_score == ""
    codeine = {r["lookup_key"] for r in guidance([call], load_recommendations(RESOURCES), set())
               if r["drug"] == "codeine" and r["source"] == "CPIC"}
    assert codeine == {"CYP2D6=0.25", "CYP2D6=0.5", "CYP2D6=0.75", "CYP2D6=1.0"}


def test_an_allele_of_unknown_function_is_indeterminate(tmp_path: Path) -> None:
    # PharmCAT's Cyp2d6Test.testCyp2d6AlleleWithNoFunction: *1/*XXX is Indeterminate.
    (call,) = _outside(tmp_path, "CYP2D6\t*1/*XXX\n")
    assert (call.phenotype, call.lookup_key, call.status) == ("Indeterminate", "n/a", "called")
    rows = [r for r in guidance([call], load_recommendations(RESOURCES), set()) if r["source"] == "CPIC"]
    assert rows and {r["lookup_key"] for r in rows} == {"CYP2D6=n/a"}


def test_cftr_reference_outside_call_is_labelled_reference(tmp_path: Path) -> None:
    # PharmCAT's CftrTest.outsideReferenceCall: printed 'Reference/Reference', looked up as usual.
    (call,) = _outside(tmp_path, "CFTR\tivacaftor non-responsive CFTR sequence/ivacaftor non-responsive CFTR sequence\n")
    assert (call.diplotype, call.lookup_key) == ("Reference/Reference", "ivacaftor non-responsive in CF patients")


@needs_shared
def test_calls_read_back_from_a_cohort_table_give_the_same_outputs_as_the_vcf(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A cohort's VCF is called once (`--vcf`, every sample); a patient's calls are then taken
    from that table (`--calls`) with its own outside calls: byte for byte what calling the VCF
    for that sample gives, the outside calls in place of the not-tested rows."""
    joint = SHARED / "pgx/getrm-wgs/getrm3_pgx_genes.vcf.bgz"
    outside = EXAMPLE / "pharmcat.example.outsideCall.tsv"
    assert main(["diplotypes", "--vcf", str(joint), "--output", str(tmp_path / "cohort.tsv")]) == 0
    for name, source in (("vcf", ["--vcf", str(joint)]), ("table", ["--calls", str(tmp_path / "cohort.tsv")])):
        assert main(["diplotypes", *source, "--sample", "NA18565", "--outside-calls", str(outside),
                     "--output", str(tmp_path / f"{name}.calls.tsv"),
                     "--output-guidance", str(tmp_path / f"{name}.guidance.tsv")]) == 0
    for kind in ("calls", "guidance"):
        assert (tmp_path / f"vcf.{kind}.tsv").read_bytes() == (tmp_path / f"table.{kind}.tsv").read_bytes(), kind
    calls = {r["gene"]: r for r in read_tsv(tmp_path / "table.calls.tsv")}
    assert calls["HLA-B"]["source"] == "outside_call" and calls["CYP2D6"]["status"] != "not_tested"
    assert main(["diplotypes", "--calls", str(tmp_path / "cohort.tsv"), "--sample", "NA00000",
                 "--output", str(tmp_path / "x.tsv")]) == 1
    assert "cohort.tsv: no calls for sample NA00000" in capsys.readouterr().err
