from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RESOURCES, SHARED, needs_shared

from pgx.kb import Manifest, verify
from pgx.kb.civic import parse_alteration, profile_expression


@pytest.mark.parametrize("name,kind,fields", [
    ("V600E", "protein", {"ref_aa": "V", "codon": 600, "alt_aa": "E"}),
    ("Q157P/R", "protein", {"alt_aa": "P/R"}),
    ("V600", "codon", {"codon": 600}),
    ("G12/G13", "codon", {"codon": 12, "codon_end": 13, "consequence_class": "codon_list"}),
    ("Exon 19 Deletion", "exon", {"exon": 19, "consequence_class": "deletion"}),
    ("EXON 20 INSERTION", "exon", {"exon": 20, "consequence_class": "insertion"}),
    ("Mutation", "gene", {"consequence_class": "any_mutation"}),
    ("Loss-of-function", "gene", {"consequence_class": "loss_of_function"}),
    ("Amplification", "copy_number", {"consequence_class": "amplification"}),
    ("EML4::ALK", "fusion", {"partner_5": "EML4", "partner_3": "ALK"}),
    ("Fusion", "fusion", {"consequence_class": "any_partner"}),
    ("W288FS", "frameshift", {"codon": 288}),
    ("L755_T759del", "protein_indel", {"codon": 755, "codon_end": 759}),
    ("Overexpression", "other", {}),
])
def test_civic_variant_names_become_alteration_specs(name: str, kind: str, fields: dict) -> None:
    spec = parse_alteration("GENE", name)
    assert spec.kind == kind
    for key, value in fields.items():
        assert getattr(spec, key) == value


def test_complex_profile_names_become_logic_over_variant_ids() -> None:
    names = {12: "BRAF V600E", 17: "BRAF Amplification", 20: "BRAF V600K"}
    assert profile_expression("BRAF Amplification AND ( BRAF V600E OR BRAF V600K )", [12, 17, 20], names) \
        == "v17 AND ( v12 OR v20 )"
    assert profile_expression("BRAF V600E AND KRAS G12D", [12], names) == ""


def test_bundled_knowledge_base_is_intact_and_described() -> None:
    assert verify(RESOURCES) == []
    manifest = Manifest.load(RESOURCES)
    names = {s["name"] for s in manifest.data["sources"]}
    assert "CIViC" in names and all(s["license"] for s in manifest.data["sources"])
    assert manifest.versions["CIViC"] == "2025-07-01"


def test_no_civic_prose_in_the_bundle() -> None:
    evidence = (RESOURCES / "kb/civic/evidence.tsv").read_text()
    header = evidence.splitlines()[0].split("\t")
    assert "evidence_statement" not in header and "summary" not in header
    assert max(len(line) for line in evidence.splitlines()) < 1500


@needs_shared
def test_build_is_reproducible(tmp_path: Path) -> None:
    from pgx.kb.build import build

    out = tmp_path / "resources"
    manifest = build(SHARED, out)
    bundled = json.loads((RESOURCES / "manifest.json").read_text())
    assert manifest["tables"] == bundled["tables"], "rebuilding from the sources must give the bundled bytes"
    assert (out / "manifest.json").read_bytes() == (RESOURCES / "manifest.json").read_bytes()


@needs_shared
def test_failed_build_keeps_the_previous_knowledge_base(tmp_path: Path) -> None:
    from pgx.errors import PgxInputError
    from pgx.kb.build import build

    out = tmp_path / "resources"
    out.mkdir()
    (out / "marker").write_text("previous")
    broken = tmp_path / "civic-broken"
    broken.mkdir()
    with pytest.raises(PgxInputError):
        build(SHARED, out, civic_release=broken)
    assert (out / "marker").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kb-build")] == []


@needs_shared
def test_civic_2025_fusions_take_partners_from_their_columns() -> None:
    from pgx.kb.civic import build_tables

    tables, counts = build_tables(SHARED / "somatic/civic/2025-07-01")
    variants = {int(str(v["variant_id"])): v for v in tables["variants"]}
    # BCR::ABL1 Fusion (1), FGFR2::BICC1 Fusion (782), v::RET Fusion (1687: any 5' partner).
    assert [variants[1][k] for k in ("gene", "partner_5", "partner_3", "consequence_class")] == \
        ["ABL1", "BCR", "ABL1", "named_partners"]
    assert [variants[782][k] for k in ("gene", "partner_5", "partner_3")] == ["FGFR2", "FGFR2", "BICC1"]
    assert [variants[1687][k] for k in ("gene", "partner_5", "partner_3", "consequence_class")] == \
        ["RET", "", "RET", "any_partner"]
    profiles = {p["name"]: p for p in tables["profiles"]}
    assert profiles["v::RET Fusion"]["expression"] == "v1687"
    assert profiles["EML4::ALK Fusion AND ALK F1245C"]["logic"] == "complex"
    assert counts["profiles_unparsed"] <= 1 and counts["evidence_items"] == 4568
