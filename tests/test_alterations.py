"""Every actionable alteration reached, and sensitivity weighed against resistance in the same
patient: real positions (GRCh37 from dbSNP/ClinVar, lifted to GRCh38 by the bundled chain), both
builds, CIViC 2025-07-01."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RESOURCES, match_record

from pgx.liftover import LiftOver
from pgx.match import (
    Assessment,
    KnowledgeBase,
    alterations_from_cna,
    alterations_from_fusions,
    assess,
    match,
)
from pgx.ontology import Ontology
from pgx.outputs import read_tsv

LIFT = LiftOver.load(RESOURCES / "liftover/GRCh37_to_GRCh38.tsv.gz")

# GRCh37 positions.
MET_C3028_PLUS1 = "7 116412044 . G T"  # MET c.3028+1G>T, exon 14 skipping
FLT3_EXON14_ITD = "13 28608284 . A AGATCCAGATCCAGATCCACCC"  # 21-bp in-frame insertion, FLT3 exon 14
RET_M918T = "10 43617416 . T C"
ESR1_D538G = "6 152419926 . A G"
EGFR_L858R = "7 55259515 . T G"
EGFR_T790M = "7 55249071 . C T"
ABL1_T315I = "9 133748283 . C T"
ABL1_E255K = "9 133738363 . G A"


def in_build(record: str, build: str) -> str:
    if build == "GRCh37":
        return record
    chrom, pos, rest = record.split(" ", 2)
    lifted = LIFT.lift(chrom, int(pos))
    assert lifted, record
    return f"chr{lifted[0]} {lifted[1]} {rest}"


def _table(path: Path, header: str, *rows: str) -> str:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return str(path)


BUILDS = pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])


def _sensitive(rows: list[dict[str, str]], drug: str) -> list[dict[str, str]]:
    return [r for r in rows if drug in r["therapy"] and r["direction"] == "sensitivity" and r["on_label"] == "true"]


@BUILDS
def test_met_exon14_splice_donor_reaches_capmatinib_in_nsclc(tmp_path: Path, build: str) -> None:
    rows = match_record(tmp_path, build, in_build(MET_C3028_PLUS1, build), "LUAD")
    capmatinib = _sensitive(rows, "Capmatinib")
    assert capmatinib and capmatinib[0]["level"] == "A"
    assert capmatinib[0]["alteration"] == "Exon 14 Skipping Mutation" and capmatinib[0]["hgvsc"] == "c.3028+1G>T"


@BUILDS
def test_flt3_itd_in_aml_reaches_flt3_inhibitors(tmp_path: Path, build: str) -> None:
    rows = match_record(tmp_path, build, in_build(FLT3_EXON14_ITD, build), "AML")
    drugs = {r["therapy"] for r in rows if r["direction"] == "sensitivity" and r["on_label"] == "true"}
    assert drugs & {"Midostaurin", "Gilteritinib"}, drugs
    assert any(r["alteration"].startswith("ITD") or "ITD" in r["alteration"] for r in rows)


@BUILDS
def test_ret_m918t_without_fasta_reaches_selpercatinib_and_says_so(tmp_path: Path, build: str) -> None:
    rows = match_record(tmp_path, build, in_build(RET_M918T, build), "THME")
    selpercatinib = _sensitive(rows, "Selpercatinib")
    assert selpercatinib and selpercatinib[0]["level"] == "A"
    assert selpercatinib[0]["alteration"].startswith("M918")  # the residue is known by its hotspot
    assert selpercatinib[0]["match_note"] == "protein change unknown: give a reference genome (pgx reference fetch)"


@BUILDS
def test_esr1_d538g_reaches_elacestrant_in_breast_cancer(tmp_path: Path, build: str) -> None:
    rows = match_record(tmp_path, build, in_build(ESR1_D538G, build), "BRCA")
    assert _sensitive(rows, "Elacestrant")


@BUILDS
def test_egfr_l858r_and_t790m_osimertinib_first_erlotinib_conflicting(tmp_path: Path, build: str) -> None:
    rows = match_record(tmp_path, build, [in_build(EGFR_T790M, build), in_build(EGFR_L858R, build)], "LUAD")
    first = rows[0]
    assert first["therapy"] == "Osimertinib" and first["assessment"] == "sensitive" and first["level"] == "A"
    erlotinib = [r for r in rows if r["therapy"] == "Erlotinib"]
    assert erlotinib and {r["assessment"] for r in erlotinib} == {"conflicting"}
    assert "T790M" in erlotinib[0]["counter_evidence"]
    for drug in ("Gefitinib", "Afatinib"):
        assert {r["assessment"] for r in rows if r["therapy"] == drug} == {"conflicting"}, drug
    # T790M is shown as T790M (the KB variant it matched), not as its coding change.
    assert any(r["alteration"] == "T790M" for r in rows)


@BUILDS
def test_bcr_abl1_and_t315i_ponatinib_first_imatinib_conflicting(
        tmp_path: Path, build: str, kb: KnowledgeBase, ontology: Ontology) -> None:
    from conftest import B37_HEADER, B38_HEADER, write_vcf

    from pgx.cli import main

    vcf = write_vcf(tmp_path / "t.vcf", [in_build(ABL1_T315I, build) + " . PASS . GT 0/1"],
                    header=B37_HEADER if build == "GRCh37" else B38_HEADER)
    assert main(["annotate", "--vcf", str(vcf), "--build", build, "--output-vcf", str(tmp_path / "a.vcf.gz"),
                 "--output-tsv", str(tmp_path / "v.tsv")]) == 0
    fusions = _table(tmp_path / "f.tsv", "gene_5\tgene_3", "BCR\tABL1")
    assert main(["match", "--variants", str(tmp_path / "v.tsv"), "--fusions", fusions, "--tumor-type", "CML",
                 "--build", build, "--output", str(tmp_path / "m.tsv")]) == 0
    rows = read_tsv(tmp_path / "m.tsv")
    assert rows[0]["therapy"] == "Ponatinib" and rows[0]["assessment"] == "sensitive"
    for drug in ("Imatinib", "Dasatinib", "Nilotinib"):
        verdicts = {r["assessment"] for r in rows if r["therapy"] == drug}
        assert verdicts == {"conflicting"}, (drug, verdicts)
    imatinib = next(r for r in rows if r["therapy"] == "Imatinib")
    assert "T315I" in imatinib["counter_evidence"]
    # The fusion row is filed under the gene the evidence is about.
    assert {r["gene"] for r in rows if r["alteration"] == "BCR::ABL1"} == {"ABL1"}


def test_abl1_p_loop_mutation_reaches_the_named_group(tmp_path: Path) -> None:
    rows = match_record(tmp_path, "GRCh37", ABL1_E255K, "CML")
    groups = {r["alteration"] for r in rows}
    assert any("P-Loop Mutation" in g for g in groups) and any("TKD Mutation" in g for g in groups)
    assert not any("Non-P-Loop" in g for g in groups)


def test_fusion_is_listed_under_the_gene_of_the_evidence(tmp_path: Path, kb: KnowledgeBase, ontology: Ontology) -> None:
    fusion = alterations_from_fusions(_table(tmp_path / "f.tsv", "gene_5\tgene_3", "FGFR2\tBICC1"))
    rows = match(fusion, kb, ontology, ontology.tumor_type("IHCH"))
    assert rows and {r["gene"] for r in rows} == {"FGFR2"}
    assert rows[0]["alteration"] == "FGFR2::BICC1" and rows[0]["therapy"] in ("Pemigatinib", "Infigratinib", "Futibatinib")
    tacc3 = match(alterations_from_fusions(_table(tmp_path / "g.tsv", "gene_5\tgene_3", "FGFR3\tTACC3")),
                  kb, ontology, ontology.tumor_type("BLCA"))
    assert tacc3 and {r["gene"] for r in tacc3} == {"FGFR3"}


@pytest.mark.parametrize("table,header,row", [
    ("cna.tsv", "gene\tcall\texons", "EGFR\tdeletion\t2-7"),
    ("sv.tsv", "gene_5\tgene_3\texon_5\texon_3", "EGFR\tEGFR\t1\t8"),
])
def test_egfrviii_from_a_copy_number_or_sv_row(tmp_path: Path, kb: KnowledgeBase, ontology: Ontology,
                                               table: str, header: str, row: str) -> None:
    path = _table(tmp_path / table, header, row)
    alts = alterations_from_cna(path) if table == "cna.tsv" else alterations_from_fusions(path)
    rows = match(alts, kb, ontology, ontology.tumor_type("GB"))
    assert rows and all(r["gene"] == "EGFR" for r in rows)
    assert all("EGFRvIII" in str(r["alteration"]) for r in rows)
    # An intragenic deletion is not a loss of the whole gene.
    assert not any(r["match_level"] == "copy_number" for r in rows)


def _row(therapy: str, direction: str, level: str, keys: str, on_label: bool = True) -> dict[str, object]:
    return {"therapy": therapy, "direction": direction, "level": level, "on_label": on_label,
            "evidence_type": "Predictive", "variant_keys": keys, "gene": "G", "alteration": keys,
            "source_id": f"EID{len(keys)}"}


def test_assessment_is_per_drug_set_whatever_the_order() -> None:
    rows = assess([_row("Dabrafenib + Trametinib", "sensitivity", "A", "v1"),
                   _row("Trametinib + Dabrafenib", "resistance", "B", "v2")])
    assert {r["assessment"] for r in rows} == {Assessment.CONFLICTING.value}


def test_resistance_to_one_drug_weighs_on_its_combinations_not_the_reverse() -> None:
    rows = assess([_row("Erlotinib + Ramucirumab", "sensitivity", "A", "v1"),
                   _row("Erlotinib", "resistance", "A", "v2"),
                   _row("Cetuximab", "sensitivity", "A", "v1"),
                   _row("Cetuximab + Encorafenib", "resistance", "A", "v2")])
    verdict = {str(r["therapy"]): r["assessment"] for r in rows}
    assert verdict["Erlotinib + Ramucirumab"] == "conflicting"
    assert verdict["Cetuximab"] == "sensitive"


def test_weak_or_off_label_resistance_does_not_overturn_sensitivity_unless_more_specific() -> None:
    rows = assess([_row("X", "sensitivity", "A", "v1"), _row("X", "resistance", "C", "v2"),
                   _row("X", "resistance", "A", "v3", on_label=False)])
    assert {r["assessment"] for r in rows} == {"sensitive"}
    assert "level C" in str(rows[0]["counter_evidence"])
    specific = assess([_row("Y", "sensitivity", "A", "v1"), _row("Y", "resistance", "D", "v1;v2")])
    assert {r["assessment"] for r in specific} == {"conflicting"}


def test_resistant_and_no_benefit_without_sensitivity() -> None:
    assert assess([_row("Z", "resistance", "C", "v1")])[0]["assessment"] == "resistant"
    assert assess([_row("W", "no_benefit", "B", "v1")])[0]["assessment"] == "no_benefit"


def test_germline_findings_join_the_same_assessment(tmp_path: Path) -> None:
    from pgx.match import MATCH_COLUMNS
    from pgx.outputs import write_tsv_atomic
    from pgx.report import assessed_matches

    def tsv(name: str, rows: list[dict[str, object]]) -> str:
        full = [{c: r.get(c, "") for c in MATCH_COLUMNS} | {"rating": "3", "match_level": "gene",
                                                             "evidence_type": "Predictive"} | r for r in rows]
        write_tsv_atomic(tmp_path / name, MATCH_COLUMNS, full)
        return str(tmp_path / name)

    somatic = tsv("s.tsv", [{"gene": "BRCA2", "alteration": "X", "therapy": "Olaparib", "direction": "resistance",
                             "level": "B", "on_label": True, "variant_keys": "s1", "source_id": "EID1", "origin": "somatic"}])
    germline = tsv("g.tsv", [{"gene": "BRCA2", "alteration": "c.5946del", "therapy": "Olaparib",
                              "direction": "sensitivity", "level": "A", "on_label": True, "variant_keys": "g1",
                              "source_id": "EID2", "origin": "germline"}])
    rows = assessed_matches(somatic, germline)
    assert {r["origin"] for r in rows} == {"somatic", "germline"}
    assert {r["assessment"] for r in rows} == {"conflicting"}
    alone = assessed_matches(None, germline)
    assert alone[0]["assessment"] == "sensitive" and alone[0]["origin"] == "germline"


def test_coverage_table_accounts_for_every_level_a_b_kind() -> None:
    rows = read_tsv(RESOURCES / "kb/civic/coverage.tsv")
    strong = [r for r in rows if int(r["evidence_items_level_ab"]) > 0]
    assert strong
    for r in strong:
        assert r["reachable"] == "true" or r["reason"], r
    reachable = {r["kind"] for r in rows if r["reachable"] == "true"}
    assert {"itd", "domain", "exon_skipping", "egfrviii", "fusion", "copy_number"} <= reachable
    total = sum(int(r["evidence_items"]) for r in rows)
    assert total == 4568  # every accepted item of CIViC 2025-07-01, once


def test_a_synonymous_change_at_a_hotspot_never_reaches_gene_level_evidence(kb: KnowledgeBase) -> None:
    from pgx.match import Alteration, satisfies

    spec = next(v for v in kb.variants.values() if v["gene"] == "RET" and v["kind"] == "gene"
                and v["consequence_class"] == "any_mutation")
    known = Alteration(gene="RET", label="M918=", keys="k", consequence="synonymous_variant", codon=918,
                       protein_kind="synonymous", ref_aa="M", alt_aa="M", is_hotspot_codon=True)
    unknown = Alteration(gene="RET", label="c.2753T>C", keys="k", consequence="coding_sequence_variant",
                         codon=918, protein_kind="unknown", is_hotspot_codon=True)
    missense = Alteration(gene="RET", label="M918T", keys="k", consequence="missense_variant", codon=918,
                          protein_kind="missense", ref_aa="M", alt_aa="T", is_hotspot_codon=True)
    assert satisfies(known, spec) is None
    assert satisfies(unknown, spec) == "gene" and satisfies(missense, spec) == "gene"
