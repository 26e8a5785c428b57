from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import RESOURCES

from pgx.match import MATCH_COLUMNS
from pgx.outputs import write_tsv_atomic
from pgx.report import build_report, render_html, write_report
from pgx.schemas import validate_report

EVIL = '<script>alert("x")</script>'


def match_row(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {c: "" for c in MATCH_COLUMNS}
    row.update(gene="BRAF", alteration="V600E", match_level="protein", therapy="Vemurafenib",
               direction="sensitivity", level="A", native_level="A", amp_tier="Tier I (Level A)",
               on_label=True, tumor_type_relation="ancestor", disease="Melanoma", doid="DOID:1909",
               evidence_type="Predictive", significance="Sensitivity/Response", source="CIViC",
               source_id="EID1", citations="PMID:1", source_url="https://civicdb.org/links/evidence_items/1",
               variant_keys="7_1_A_T", origin="somatic", kb_version="CIViC 2024-08-01")
    row.update(kw)
    return row


def make(tmp_path: Path, matches: list[dict[str, object]], patient: str = "P1", **kw: object) -> dict:
    m = tmp_path / "matches.tsv"
    write_tsv_atomic(m, MATCH_COLUMNS, matches)
    return build_report(patient=patient, tumor_type={"code": "SKCM", "name": "Cutaneous Melanoma"},
                        build="GRCh38", inputs={"tumor_vcf": "t.vcf", "germline_vcf": ""},
                        resources=RESOURCES, variants_tsv=None, matches_tsv=str(m),
                        pharmacogenes_tsv=None, guidance_tsv=None, generated_at="2026-01-01T00:00:00+00:00", **kw)


def test_strings_from_inputs_render_as_text(tmp_path: Path) -> None:
    report = make(tmp_path, [match_row(alteration=EVIL, gene=f"G{EVIL}", therapy=EVIL)], patient=EVIL)
    html = render_html(report)
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert len(re.findall(r"<script>", html)) == 1  # only our own table script


def test_report_validates_against_its_schema_and_rejects_bad_levels(tmp_path: Path) -> None:
    report = make(tmp_path, [match_row()])
    validate_report(report)
    report["therapeutic"]["sensitivity"][0]["level"] = "Z"
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate_report(report)


def test_empty_sections_say_nothing_was_found(tmp_path: Path) -> None:
    html = render_html(make(tmp_path, []))
    for section in ("therapies", "resistance", "pharmacogenomics", "germline", "variants", "evidence"):
        block = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
        assert "Nothing found" in block or "nothing" in block.lower(), section


def test_sensitivity_and_resistance_are_separate_and_ordered(tmp_path: Path) -> None:
    rows = [match_row(level="A", source_id="EID1"),
            match_row(direction="resistance", therapy="Cetuximab", source_id="EID2"),
            match_row(direction="no_benefit", therapy="Sorafenib", source_id="EID3"),
            match_row(evidence_type="Prognostic", direction="poor_outcome", therapy="", source_id="EID4")]
    report = make(tmp_path, rows)
    assert [m["source_id"] for m in report["therapeutic"]["sensitivity"]] == ["EID1"]
    assert [m["source_id"] for m in report["therapeutic"]["resistance"]] == ["EID2", "EID3"]
    assert [m["source_id"] for m in report["therapeutic"]["prognostic_diagnostic"]] == ["EID4"]
    assert report["key_findings"][0]["drug"] == "Vemurafenib"


def test_written_report_is_reproducible_but_for_its_timestamp(tmp_path: Path) -> None:
    outs = []
    for n in range(2):
        report = make(tmp_path, [match_row()])
        report["generated_at"] = f"2026-01-0{n + 1}T00:00:00+00:00"
        write_report(report, str(tmp_path / f"r{n}.json"), str(tmp_path / f"r{n}.html"))
        data = json.loads((tmp_path / f"r{n}.json").read_text())
        data.pop("generated_at")
        outs.append(data)
    assert outs[0] == outs[1]
    assert outs[0]["pipeline"]["version"] and outs[0]["knowledge_base"]["label"]


def test_cohort_of_200_patients_stays_small(tmp_path: Path) -> None:
    from pgx.cohort import summarise

    base = make(tmp_path, [match_row(), match_row(gene="EGFR", alteration="L858R", level="B", source_id="EID2")])
    paths = []
    for n in range(200):
        report = json.loads(json.dumps(base))
        report["patient"]["id"] = f"P{n:03d}"
        folder = tmp_path / "results" / f"P{n:03d}"
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(report))
        paths.append(str(folder / "report.json"))
    out_html = tmp_path / "results/cohort/summary.html"
    summarise(paths, str(tmp_path / "results/cohort/summary.tsv"), str(out_html))
    size = out_html.stat().st_size
    assert size < 3_000_000, size
    html = out_html.read_text()
    assert html.count('href="../P') == 200 and "EGFR" in html


def test_tmb_is_computed_only_with_a_callable_size() -> None:
    from pgx.report import is_coding, tumor_mutational_burden

    variants = [{"consequence": c} for c in ("missense_variant", "synonymous_variant", "intron_variant",
                                               "frameshift_variant", "coding_sequence_variant")]
    coding = sum(map(is_coding, variants))
    assert tumor_mutational_burden(coding, 2.0)["value"] == 2.0
    unknown = tumor_mutational_burden(coding, 0)
    assert unknown["value"] is None and "not computed" in unknown["note"]


def test_tiles_count_what_the_sections_show(tmp_path: Path) -> None:
    rows = [match_row(level="A", source_id="EID1"), match_row(therapy="Dabrafenib + Trametinib", level="B", source_id="EID5"),
            match_row(therapy="Trametinib + Dabrafenib", level="C", on_label=False, source_id="EID6"),
            match_row(direction="resistance", therapy="Cetuximab", source_id="EID2"),
            match_row(direction="no_benefit", therapy="Sorafenib", level="C", source_id="EID3")]
    report = make(tmp_path, rows)
    summary, therapies = report["summary"], report["therapies"]
    assert summary["therapies_to_discuss"] == len(therapies["to_discuss"]) == 2  # one row per drug set
    assert summary["therapies_resistance"] == len(therapies["resistance"]) == 1
    assert summary["therapy_evidence_items"] == sum(summary["matches_by_level"].values()) == 5
    html = render_html(report)
    assert html.count('<tr class="a-') == len(therapies["to_discuss"]) + len(therapies["resistance"]) + len(therapies["other"])
    validate_report(report)


def test_a_conflicting_therapy_is_never_a_plain_recommendation(tmp_path: Path) -> None:
    rows = [match_row(gene="EGFR", alteration="L858R", therapy="Erlotinib", variant_keys="k1", source_id="EID1"),
            match_row(gene="EGFR", alteration="T790M", therapy="Erlotinib", direction="resistance", variant_keys="k2",
                      source_id="EID2"),
            match_row(gene="EGFR", alteration="T790M", therapy="Osimertinib", variant_keys="k2", source_id="EID3")]
    report = make(tmp_path, rows)
    kinds = {k["drug"]: k["direction"] for k in report["key_findings"]}
    assert kinds == {"Osimertinib": "sensitivity", "Erlotinib": "conflicting"}
    assert report["key_findings"][0]["drug"] == "Osimertinib"
    erlotinib = next(k for k in report["key_findings"] if k["drug"] == "Erlotinib")
    assert "T790M" in erlotinib["counter_evidence"]


def test_only_http_links_are_rendered(tmp_path: Path) -> None:
    html = render_html(make(tmp_path, [match_row(source_url="javascript:alert(1)", source_id="LAB-1", source="Lab")]))
    assert "javascript:" not in html


def test_docs_show_the_first_screen_of_every_demo_report() -> None:
    root = Path(__file__).resolve().parents[1]
    patients = [line.split("\t")[0] for line in (root / "config/samples.tsv").read_text().splitlines()[1:] if line]
    doc = (root / "docs/report.md").read_text()
    assert patients
    for patient in patients:
        picture = root / "docs/report" / f"{patient}.png"
        assert f"](report/{patient}.png)" in doc and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
