"""Tumor types placed on the OncoTree: every code against its own main type's disease, the
crosswalk's coverage of level A/B evidence, and real approvals in both genome builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RESOURCES, SHARED, match_record, needs_shared

from pgx.kb.diseases import _rows, normalised_name
from pgx.match import KnowledgeBase, alterations_from_cna, alterations_from_fusions, match
from pgx.ontology import Ontology, TumorTypeRelation, is_on_label
from pgx.outputs import read_tsv

ONTOLOGY_SOURCES = SHARED / "reference/ontology"
CIVIC = SHARED / "somatic/civic/2025-07-01"
ONCOTREE_SOURCES_PCGR = ONTOLOGY_SOURCES / "pcgr_oncotree_phenotypes.tsv.gz"

# Codes whose OncoTree main-type label is not the disease they are: OncoTree groups them under
# another main type for display. Evidence for that main type must not be on-label for them.
MAIN_TYPE_IS_NOT_THE_DISEASE = {
    "LNET": "lung neuroendocrine tumors (carcinoids, SCLC) are filed under 'Non-Small Cell Lung Cancer'",
    "LUCA": "lung carcinoid, filed under 'Non-Small Cell Lung Cancer'",
    "ALUCA": "atypical lung carcinoid, filed under 'Non-Small Cell Lung Cancer'",
    "LUNE": "large cell neuroendocrine carcinoma: a neuroendocrine carcinoma (WHO 2021), filed under NSCLC",
    "PPB": "pleuropulmonary blastoma, a pediatric sarcoma, filed under 'Non-Small Cell Lung Cancer'",
    "LAM": "lymphangioleiomyomatosis (PEComa family), filed under 'Non-Small Cell Lung Cancer'",
    "LAIS": "adenocarcinoma in situ, a precursor, filed under 'Non-Small Cell Lung Cancer'",
    "IMTL": "inflammatory myofibroblastic tumor, filed under 'Non-Small Cell Lung Cancer'",
    "BFN": "fibroepithelial neoplasms (fibroadenoma, phyllodes) filed under 'Breast Sarcoma'",
    "PT": "phyllodes tumor, filed under 'Breast Sarcoma'",
    "MPT": "malignant phyllodes tumor, filed under 'Breast Sarcoma'",
    "BLPT": "borderline phyllodes tumor, filed under 'Breast Sarcoma'",
    "BPT": "benign phyllodes tumor, filed under 'Breast Sarcoma'",
    "FA": "fibroadenoma (benign), filed under 'Breast Sarcoma'",
    "OUTT": "other uterine tumors (not endometrial), filed under 'Endometrial Cancer'",
}


def _singular(name: str) -> str:
    return normalised_name(name).removesuffix("s")


def main_type_diseases() -> dict[str, set[tuple[str, str]]]:
    """Main type → its diseases, from the public sources (not from pgx's crosswalk): a disease
    named like the main type (Disease Ontology names in PCGR's and phenOncoX's tables, CIViC's
    disease names), else the DOIDs the sources map to the OncoTree node named like it."""
    named: dict[str, set[tuple[str, str]]] = {}
    mapped: dict[str, set[str]] = {}
    for r in _rows(ONCOTREE_SOURCES_PCGR):
        if r["do_id"].startswith("DOID:"):
            named.setdefault(_singular(r["do_name"]), set()).add((r["do_id"], r["do_name"]))
    for r in _rows(ONTOLOGY_SOURCES / "phenoncox_oncotree_basic.tsv"):
        if r["do_id"].startswith("DOID:"):
            named.setdefault(_singular(r["do_name"]), set()).add((r["do_id"], r["do_name"]))
            mapped.setdefault(r["ot_code"], set()).add(r["do_id"])
    for r in _rows(ONTOLOGY_SOURCES / "oncotree_to_doid_via_umls.tsv"):
        mapped.setdefault(r["oncotree_code"], set()).add(r["do_id"])
    for r in _rows(next(CIVIC.glob("*-ClinicalEvidenceSummaries.tsv"))):
        named.setdefault(_singular(r["disease"]), set()).add(
            (f"DOID:{r['doid']}" if r["doid"] else "", r["disease"]))
    tree = _rows(ONTOLOGY_SOURCES / "oncotree_2025_10_03.flat.tsv")
    out: dict[str, set[tuple[str, str]]] = {}
    for main_type in {r["main_type"] for r in tree if r["main_type"]}:
        found = named.get(_singular(main_type), set())
        if not found:
            nodes = [r["code"] for r in tree if _singular(r["name"]) == _singular(main_type)]
            found = {(d, "") for code in nodes for d in mapped.get(code, set())}
        if found:
            out[main_type] = found
    return out





@needs_shared
def test_every_oncotree_code_is_on_label_for_its_own_main_type(ontology: Ontology) -> None:
    diseases = main_type_diseases()
    tree = [r for r in _rows(ONTOLOGY_SOURCES / "oncotree_2025_10_03.flat.tsv") if r["code"] != "TISSUE"]
    covered = [r for r in tree if r["main_type"] in diseases]
    off_label, checked = [], 0
    for r in covered:
        if r["code"] in MAIN_TYPE_IS_NOT_THE_DISEASE:
            continue
        patient = ontology.tumor_type(r["code"])
        for doid, name in sorted(diseases[r["main_type"]]):
            checked += 1
            relation = ontology.relation(doid, name, patient)
            if relation not in (TumorTypeRelation.EXACT, TumorTypeRelation.ANCESTOR):
                off_label.append((r["code"], r["main_type"], doid or name, relation.value))
    assert off_label == []
    # The figure (2025-10-03 tree): 566 of 897 codes have a main type whose disease the sources
    # name; all but the 15 listed exceptions are checked.
    assert len(covered) >= 560 and checked >= len(covered) - len(MAIN_TYPE_IS_NOT_THE_DISEASE)


@needs_shared
def test_excluded_codes_are_really_outside_their_main_type_disease(ontology: Ontology) -> None:
    diseases = main_type_diseases()
    tree = {r["code"]: r for r in _rows(ONTOLOGY_SOURCES / "oncotree_2025_10_03.flat.tsv")}
    for code in MAIN_TYPE_IS_NOT_THE_DISEASE:
        patient = ontology.tumor_type(code)
        relations = {ontology.relation(d, n, patient) for d, n in diseases[tree[code]["main_type"]]}
        assert not relations & {TumorTypeRelation.EXACT, TumorTypeRelation.ANCESTOR}, code


def test_every_level_a_b_disease_is_mapped_or_has_a_reason() -> None:
    rows = read_tsv(RESOURCES / "ontology/diseases.tsv")
    strong = [r for r in rows if int(r["civic_items_level_ab"] or 0) > 0]
    assert len(strong) >= 200
    unmapped = [r for r in strong if r["scope"] == "unmapped"]
    assert all(r["note"] for r in unmapped)
    # Only hereditary syndromes and tumors OncoTree has no place for.
    assert len(unmapped) <= 4, [r["name"] for r in unmapped]
    for r in strong:
        if r["scope"] == "tumor_type":
            assert r["oncotree_codes"] and r["method"], r


def test_every_curated_row_names_real_codes_and_a_reason(ontology: Ontology) -> None:
    from pgx.kb.diseases import CURATION

    for r in _rows(CURATION):
        assert r["reason"], r
        for code in filter(None, r["oncotree_codes"].split(",")):
            assert ontology.is_known(code), (r["name"], code)


@pytest.mark.parametrize("code,doid,disease,relation", [
    ("BRCA", "DOID:1612", "Breast Cancer", "ancestor"),
    ("IDC", "DOID:0060079", "Her2-receptor Positive Breast Cancer", "ancestor"),
    ("BREAST", "DOID:1612", "Breast Cancer", "exact"),
    ("CML", "DOID:8552", "Chronic Myeloid Leukemia", "exact"),
    ("CMLBCRABL1", "DOID:8552", "Chronic Myeloid Leukemia", "ancestor"),
    ("BLLBCRABL1", "DOID:9952", "Acute Lymphoblastic Leukemia", "ancestor"),
    ("CLLSLL", "DOID:1040", "Chronic Lymphocytic Leukemia", "exact"),
    ("AML", "DOID:9952", "Acute Lymphoblastic Leukemia", "other"),
    ("PCM", "DOID:1040", "Chronic Lymphocytic Leukemia", "same_tissue"),
    ("BLLBCRABL1", "DOID:8552", "Chronic Myeloid Leukemia", "other"),
    ("CCRCC", "DOID:4007", "Bladder Carcinoma", "other"),
    ("CCRCC", "DOID:4450", "Renal Cell Carcinoma", "ancestor"),
    ("PRCC", "DOID:4467", "Clear Cell Renal Cell Carcinoma", "same_tissue"),
    ("PCM", "DOID:0060318", "Acute Promyelocytic Leukemia", "other"),
    ("PCM", "", "Solid Tumor", "other"),
    ("LUAD", "", "Solid Tumor", "pan_cancer"),
    ("AML", "DOID:2531", "Hematologic Cancer", "pan_cancer"),
    ("LUAD", "DOID:2531", "Hematologic Cancer", "other"),
    ("NSCLC", "DOID:3910", "Lung Adenocarcinoma", "descendant"),
    ("ASTR", "DOID:0060108", "Brain Glioma", "ancestor"),
    ("UCEC", "DOID:1380", "Endometrial Cancer", "exact"),
    ("NBL", "DOID:769", "Neuroblastoma", "exact"),
    ("LUAD", "DOID:999999", "A Disease Nobody Mapped", "unmapped"),
])
def test_relations_of_real_codes(ontology: Ontology, code: str, doid: str, disease: str, relation: str) -> None:
    assert ontology.relation(doid, disease, ontology.tumor_type(code)).value == relation


def test_tissue_and_class_come_from_the_tree(ontology: Ontology) -> None:
    assert ontology.tumor_type("UCEC").tissue == "Uterus"
    assert ontology.tumor_type("NBL").tissue == "Peripheral Nervous System"
    assert ontology.tumor_type("CCRCC").tissue == "Kidney"
    assert ontology.tumor_type("BLL").lineage_class.value == "lymphoid"
    assert ontology.tumor_type("CLLSLL").lineage_class.value == "lymphoid"
    assert ontology.tumor_type("CML").lineage_class.value == "myeloid"
    assert ontology.tumor_type("LUAD").lineage_class.value == "solid"
    classes = {ontology.tumor_type(c).lineage_class for c in ontology.codes()}
    assert len(classes) == 3 and all(ontology.tumor_type(c).tissue for c in ontology.codes())


def test_pan_cancer_is_on_label_only_as_a_tumor_agnostic_approval() -> None:
    assert is_on_label(TumorTypeRelation.PAN_CANCER, "A")
    assert not is_on_label(TumorTypeRelation.PAN_CANCER, "B")
    assert not is_on_label(TumorTypeRelation.DESCENDANT, "A")
    assert not is_on_label(TumorTypeRelation.SAME_TISSUE, "A")


# --- real cases, in both builds --------------------------------------------------------------

# Public positions (dbSNP/ClinVar, both builds): PIK3CA H1047R, IDH1 R132H, FGFR3 R248C.
VARIANTS = {
    "PIK3CA H1047R": {"GRCh37": "3 178952085 . A G", "GRCh38": "chr3 179234297 . A G"},
    "IDH1 R132H": {"GRCh37": "2 209113112 . C T", "GRCh38": "chr2 208248388 . C T"},
    "FGFR3 R248C": {"GRCh37": "4 1803564 . C T", "GRCh38": "chr4 1801837 . C T"},
}


def _match_vcf(tmp_path: Path, build: str, variant: str, tumor: str, extra: tuple[str, ...] = ()) -> list[dict[str, str]]:
    return match_record(tmp_path, build, VARIANTS[variant][build], tumor, extra)


def _on_label(rows: list[dict[str, str]], drug: str, direction: str = "sensitivity") -> list[dict[str, str]]:
    return [r for r in rows if drug in r["therapy"] and r["direction"] == direction and r["on_label"] == "true"]


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_breast_pik3ca_h1047r_alpelisib_fulvestrant_on_label_level_a(tmp_path: Path, build: str) -> None:
    rows = _match_vcf(tmp_path, build, "PIK3CA H1047R", "BRCA")
    hits = [r for r in _on_label(rows, "Alpelisib") if "Fulvestrant" in r["therapy"]]
    assert hits and hits[0]["level"] == "A" and hits[0]["amp_tier"] == "Tier I (Level A)"
    assert hits[0]["tumor_type_relation"] == "ancestor"


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_glioma_idh1_r132h_glioma_evidence_on_label(tmp_path: Path, build: str) -> None:
    rows = _match_vcf(tmp_path, build, "IDH1 R132H", "ASTR")
    glioma = [r for r in rows if r["on_label"] == "true" and r["evidence_type"] == "Predictive"]
    assert glioma, "no on-label predictive evidence for IDH1 R132H in astrocytoma"
    assert any("Vorasidenib" in r["therapy"] for r in rows), "CIViC 2025-07 adds vorasidenib"


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_clear_cell_renal_gets_no_on_label_bladder_evidence(tmp_path: Path, build: str) -> None:
    rows = _match_vcf(tmp_path, build, "FGFR3 R248C", "CCRCC")
    assert rows, "FGFR3 R248C has evidence in CIViC"
    assert [r for r in rows if r["on_label"] == "true" and r["tumor_type_relation"] != "pan_cancer"] == []
    bladder = _match_vcf(tmp_path, build, "FGFR3 R248C", "BLCA")
    assert any(r["on_label"] == "true" and r["level"] in "AB" for r in bladder)


def _table(path: Path, header: str, *rows: str) -> str:
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return str(path)


def test_breast_erbb2_amplification_trastuzumab_on_label(tmp_path: Path, kb: KnowledgeBase, ontology: Ontology) -> None:
    cna = alterations_from_cna(_table(tmp_path / "cna.tsv", "gene\tcall", "ERBB2\tamplification"))
    rows = match(cna, kb, ontology, ontology.tumor_type("BRCA"))
    trastuzumab = [r for r in rows if r["therapy"] == "Trastuzumab" and r["direction"] == "sensitivity"]
    assert trastuzumab and trastuzumab[0]["on_label"] is True and trastuzumab[0]["level"] in "AB"


@pytest.mark.parametrize("code", ["CML", "CMLBCRABL1"])
def test_cml_bcr_abl1_imatinib_on_label(tmp_path: Path, kb: KnowledgeBase, ontology: Ontology, code: str) -> None:
    fusion = alterations_from_fusions(_table(tmp_path / "f.tsv", "gene_5\tgene_3", "BCR\tABL1"))
    rows = match(fusion, kb, ontology, ontology.tumor_type(code))
    imatinib = [r for r in rows if r["therapy"] == "Imatinib" and r["direction"] == "sensitivity"
                and r["disease"] == "Chronic Myeloid Leukemia"]
    assert imatinib and all(r["on_label"] is True for r in imatinib)
    assert imatinib[0]["level"] == "A"


def test_b_all_bcr_abl1_takes_all_evidence_not_cml(tmp_path: Path, kb: KnowledgeBase, ontology: Ontology) -> None:
    fusion = alterations_from_fusions(_table(tmp_path / "f.tsv", "gene_5\tgene_3", "BCR\tABL1"))
    rows = match(fusion, kb, ontology, ontology.tumor_type("BLLBCRABL1"))
    all_rows = [r for r in rows if "lymphoblastic" in str(r["disease"]).lower()]
    cml_rows = [r for r in rows if r["disease"] == "Chronic Myeloid Leukemia"]
    assert all_rows and any(r["on_label"] for r in all_rows)
    assert cml_rows and not any(r["on_label"] for r in cml_rows)


def test_myeloma_with_ntrk_fusion_gets_no_solid_tumor_evidence(tmp_path: Path, kb: KnowledgeBase, ontology: Ontology) -> None:
    fusion = alterations_from_fusions(_table(tmp_path / "f.tsv", "gene_5\tgene_3", "ETV6\tNTRK3"))
    solid = match(fusion, kb, ontology, ontology.tumor_type("LUAD"))
    assert any(r["disease"] == "Solid Tumor" and r["on_label"] for r in solid), "tumor-agnostic NTRK approval"
    rows = match(fusion, kb, ontology, ontology.tumor_type("PCM"))
    assert [r for r in rows if r["on_label"]] == []
    assert all(r["tumor_type_relation"] != "pan_cancer" for r in rows if r["disease"] == "Solid Tumor")


def test_level_b_cancer_basket_evidence_is_not_tier_one(kb: KnowledgeBase, ontology: Ontology, tmp_path: Path) -> None:
    fusion = alterations_from_fusions(_table(tmp_path / "f.tsv", "gene_5\tgene_3", "EML4\tALK"))
    rows = match(fusion, kb, ontology, ontology.tumor_type("PAAD"))
    basket = [r for r in rows if r["tumor_type_relation"] == "pan_cancer" and r["native_level"] == "B"]
    assert basket, "CIViC curates entrectinib and crizotinib for ALK fusions as 'Cancer' at level B"
    for r in basket:
        assert r["on_label"] is False and not str(r["amp_tier"]).startswith("Tier I ")
    for r in rows:
        if str(r["amp_tier"]).startswith("Tier I "):
            assert r["tumor_type_relation"] in ("exact", "ancestor") or r["native_level"] == "A"


@pytest.mark.parametrize("code", ["PAAD", "THPA", "LUAD"])
def test_tumor_agnostic_ret_fusion_approval_is_on_label_for_solid_tumors(
        tmp_path: Path, kb: KnowledgeBase, ontology: Ontology, code: str) -> None:
    # CIViC 2025-07-01 EID12056: selpercatinib, "v::RET Fusion OR RET Mutation", Solid Tumor, A.
    fusion = alterations_from_fusions(_table(tmp_path / "f.tsv", "gene_5\tgene_3", "NCOA4\tRET"))
    rows = match(fusion, kb, ontology, ontology.tumor_type(code))
    agnostic = [r for r in rows if r["source_id"] == "EID12056"]
    assert agnostic and agnostic[0]["on_label"] is True and agnostic[0]["amp_tier"] == "Tier I (Level A)"
    assert agnostic[0]["tumor_type_relation"] == "pan_cancer"
    blood = match(fusion, kb, ontology, ontology.tumor_type("AML"))
    assert not [r for r in blood if r["source_id"] == "EID12056" and r["on_label"]]


# --- regulatory approvals (tests/cases/approvals) ----------------------------------------------

APPROVALS = read_tsv(Path(__file__).parent / "cases/approvals/approvals.tsv")


def _approval_rows(tmp_path: Path, case: dict[str, str], build: str, tumor: str,
                   kb: KnowledgeBase, ontology: Ontology) -> list[dict[str, object]]:
    if case["kind"] == "snv":
        chrom, pos, ref, alt = case["grch37"].split(":")
        if build == "GRCh38":
            from pgx.liftover import LiftOver

            lifted = LiftOver.load(RESOURCES / "liftover/GRCh37_to_GRCh38.tsv.gz").lift(chrom, int(pos))
            assert lifted, case["case"]
            chrom, pos = f"chr{lifted[0]}", str(lifted[1])
        rows = match_record(tmp_path / case["case"], build, f"{chrom} {pos} . {ref} {alt}", tumor)
        assert any(r["alteration"] == case["alteration"] for r in rows), case["case"]
        return [{**r, "on_label": r["on_label"] == "true"} for r in rows]
    tmp_path.mkdir(parents=True, exist_ok=True)
    table = tmp_path / f"{case['case']}.tsv"
    if case["kind"] == "cna":
        return match(alterations_from_cna(_table(table, "gene\tcall", f"{case['gene']}\t{case['alteration']}")),
                     kb, ontology, ontology.tumor_type(tumor))
    five, three = case["alteration"].split("::")
    return match(alterations_from_fusions(_table(table, "gene_5\tgene_3", f"{five}\t{three}")),
                 kb, ontology, ontology.tumor_type(tumor))


# Variants in both builds; copy-number and fusion rows carry no coordinates: one build covers them.
APPROVAL_RUNS = [(c, b) for c in APPROVALS for b in (("GRCh37", "GRCh38") if c["kind"] == "snv" else ("GRCh38",))]


@pytest.mark.parametrize("case,build", APPROVAL_RUNS, ids=[f"{c['case']}-{b}" for c, b in APPROVAL_RUNS])
def test_regulatory_approval_is_found_on_label_and_not_leaked(
        tmp_path: Path, kb: KnowledgeBase, ontology: Ontology, case: dict[str, str], build: str) -> None:
    rows = _approval_rows(tmp_path, case, build, case["tumor_type"], kb, ontology)
    found = [r for r in rows if case["drug"].lower() in str(r["therapy"]).lower()
             and r["direction"] == "sensitivity" and r["on_label"] and r["level"] in ("A", "B")]
    if case["in_kb"] == "yes":
        assert found, f"{case['case']}: {case['drug']} not found on-label at level A/B"
    # An unrelated tumor type never gets a level-A on-label row, unless the approval is tumor-agnostic.
    unrelated = _approval_rows(tmp_path / "unrelated", case, build, case["unrelated"], kb, ontology)
    leaked = [(r["therapy"], r["disease"], r["source_id"]) for r in unrelated
              if r["on_label"] and r["level"] == "A" and r["tumor_type_relation"] != "pan_cancer"]
    assert leaked == []


def test_approvals_held_by_the_knowledge_base_are_most_of_the_set() -> None:
    held = [c for c in APPROVALS if c["in_kb"] == "yes"]
    assert len(APPROVALS) >= 30 and len(held) >= 26
    assert all(c["in_kb"].startswith("no: ") for c in APPROVALS if c not in held)
