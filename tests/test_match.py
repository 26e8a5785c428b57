from __future__ import annotations

import pytest
from conftest import RESOURCES

from pgx.annotate import BuiltinAnnotator, _variant_row
from pgx.match import (
    Alteration,
    KnowledgeBase,
    alterations_from_variants,
    evaluate,
    harmonised_level,
    match,
)
from pgx.outputs import cell
from pgx.transcripts import TranscriptIndex
from pgx.vcf import Variant


@pytest.fixture(scope="module")
def annotator() -> BuiltinAnnotator:
    return BuiltinAnnotator(TranscriptIndex.load(RESOURCES / "annotation"))


def alterations(annotator: BuiltinAnnotator, kb: KnowledgeBase, *variants: tuple[str, int, str, str]) -> list[Alteration]:
    # The rows exactly as variants.tsv holds them (annotate's own row builder and cell format).
    rows = []
    for chrom, pos, ref, alt in variants:
        variant = Variant(chrom, pos, ref, alt, 1, 0, "PASS", 100, 0.4, "FORMAT/AD")
        row = _variant_row(variant, annotator.annotate(variant), "")
        rows.append({k: cell(v) for k, v in row.items()})
    return alterations_from_variants(rows, "GRCh38", kb.hotspot_codons)


BRAF_V600E = ("chr7", 140753336, "A", "T")
KRAS_G12C_SNV = ("chr12", 25245351, "C", "A")
KRAS_G12C_MNV = ("chr12", 25245349, "ACC", "GCA")


def test_braf_v600e_in_colorectal_cancer(kb, ontology, annotator) -> None:
    rows = match(alterations(annotator, kb, BRAF_V600E), kb, ontology, ontology.tumor_type("COAD"))
    therapies = {(r["therapy"], r["direction"], r["level"], r["on_label"]) for r in rows}
    assert ("Encorafenib + Cetuximab", "sensitivity", "A", True) in therapies
    resistant = {r["therapy"] for r in rows if r["direction"] == "resistance"}
    assert {"Cetuximab", "Panitumumab"} & resistant
    for r in rows:  # every match carries its provenance
        assert r["source"] == "CIViC" and str(r["source_id"]).startswith("EID") and r["kb_version"]
        assert r["native_level"] in "ABCDE"


def test_melanoma_braf_v600e_is_on_label_level_a_first(kb, ontology, annotator) -> None:
    rows = match(alterations(annotator, kb, BRAF_V600E), kb, ontology, ontology.tumor_type("SKCM"))
    first = rows[0]
    assert (first["level"], first["on_label"], first["direction"]) == ("A", True, "sensitivity")
    assert any(d in first["therapy"] for d in ("Vemurafenib", "Dabrafenib", "Encorafenib"))
    levels = [r["level"] for r in rows]
    assert levels == sorted(levels)


def test_kras_g12c_as_snv_and_as_mnv_both_match_and_lung_gets_nsclc_evidence(kb, ontology, annotator) -> None:
    luad = ontology.tumor_type("LUAD")
    snv = match(alterations(annotator, kb, KRAS_G12C_SNV), kb, ontology, luad)
    mnv = match(alterations(annotator, kb, KRAS_G12C_MNV), kb, ontology, luad)
    assert {r["source_id"] for r in snv} == {r["source_id"] for r in mnv}
    sotorasib = [r for r in snv if "Sotorasib" in str(r["therapy"]) and r["direction"] == "sensitivity"]
    assert sotorasib and sotorasib[0]["on_label"] is True
    assert sotorasib[0]["tumor_type_relation"] == "ancestor"  # LUAD reaches NSCLC evidence


def test_does_not_support_is_never_benefit(kb, ontology, annotator) -> None:
    rows = match(alterations(annotator, kb, BRAF_V600E), kb, ontology, ontology.tumor_type("SKCM"))
    eid86 = [r for r in rows if r["source_id"] == "EID86"]
    assert eid86 and all(r["direction"] in ("no_benefit", "resistance_not_supported") for r in eid86)


def test_germline_origin_evidence_stays_out_of_somatic_matches(kb, ontology, annotator) -> None:
    rows = match(alterations(annotator, kb, BRAF_V600E), kb, ontology, ontology.tumor_type("SKCM"))
    assert all(r["variant_origin"] not in ("Rare Germline", "Common Germline") for r in rows)


def test_complex_profiles_need_every_part() -> None:
    assert evaluate("v17 AND ( v12 OR v20 )", {17, 20})
    assert not evaluate("v17 AND ( v12 OR v20 )", {12, 20})
    assert evaluate("v1 AND NOT v2", {1}) and not evaluate("v1 AND NOT v2", {1, 2})


def test_off_label_a_is_c() -> None:
    assert harmonised_level("A", True) == "A"
    assert harmonised_level("A", False) == "C"
    assert harmonised_level("E", True) == "D"


def test_passenger_missense_does_not_reach_gene_level_mutation_evidence(kb, ontology) -> None:
    def missense(hotspot: bool) -> Alteration:
        return Alteration(gene="PIK3CA", label="X500Y", keys="3_1_A_G", consequence="missense_variant",
                          ref_aa="X", codon=500, alt_aa="Y", protein_kind="missense", is_hotspot_codon=hotspot)

    breast = ontology.tumor_type("BRCA")
    passenger = match([missense(False)], kb, ontology, breast)
    assert all(r["match_level"] != "gene" for r in passenger)
    hotspot = match([missense(True)], kb, ontology, breast)
    assert any(r["match_level"] == "gene" and r["profile"] == "PIK3CA Mutation" for r in hotspot)


def test_copy_number_and_fusion_tables(kb, ontology, tmp_path) -> None:
    from pgx.match import alterations_from_cna, alterations_from_fusions

    cna = tmp_path / "cna.tsv"
    cna.write_text("gene\tcall\nERBB2\tamplification\n")
    fusions = tmp_path / "fusions.tsv"
    fusions.write_text("gene_5\tgene_3\nEML4\tALK\n")
    alts = alterations_from_cna(str(cna)) + alterations_from_fusions(str(fusions))
    rows = match(alts, kb, ontology, ontology.tumor_type("LUAD"))
    assert any(r["match_level"] == "fusion" and "Crizotinib" in str(r["therapy"]) and r["on_label"] for r in rows)
    assert any(r["match_level"] == "copy_number" and r["gene"] == "ERBB2" for r in rows)


def test_user_knowledge_base_merges_under_its_own_name(tmp_path, ontology, annotator) -> None:  # type: ignore[no-untyped-def]
    import json

    from pgx.kb.civic import EVIDENCE_COLUMNS, PROFILE_COLUMNS, VARIANT_COLUMNS
    from pgx.outputs import write_tsv_atomic

    lab = tmp_path / "lab"
    write_tsv_atomic(lab / "variants.tsv", VARIANT_COLUMNS, [
        {"variant_id": 1, "gene": "BRAF", "name": "V600E", "kind": "protein", "ref_aa": "V", "codon": 600,
         "codon_end": 600, "alt_aa": "E"}])
    write_tsv_atomic(lab / "profiles.tsv", PROFILE_COLUMNS, [
        {"profile_id": 1, "name": "BRAF V600E", "logic": "single", "expression": "v1", "variant_ids": "1"}])
    write_tsv_atomic(lab / "evidence.tsv", EVIDENCE_COLUMNS, [
        {"evidence_id": "LAB-7", "profile_id": 1, "evidence_type": "Predictive", "evidence_direction": "Supports",
         "significance": "Sensitivity/Response", "evidence_level": "B", "disease": "Melanoma", "doid": "DOID:1909",
         "therapies": "Labinib", "variant_origin": "Somatic", "citation_id": "12345", "source_type": "PubMed"}])
    (lab / "source.json").write_text(json.dumps({"name": "LabKB", "version": "2026.1", "license": "internal"}))
    kb = KnowledgeBase.load(RESOURCES, [lab])
    rows = match(alterations(annotator, kb, BRAF_V600E), kb, ontology, ontology.tumor_type("SKCM"))
    lab_rows = [r for r in rows if r["source"] == "LabKB"]
    assert [(r["source_id"], r["therapy"], r["level"], r["on_label"]) for r in lab_rows] == [("LAB-7", "Labinib", "B", True)]
    assert any(r["source"] == "CIViC" for r in rows)  # CIViC evidence still there
    assert "LabKB 2026.1" in str(lab_rows[0]["kb_version"])
