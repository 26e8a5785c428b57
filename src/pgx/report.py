"""The per-patient report: report.json (the contract) and report.html rendered from it.

Every section is built from the step outputs only; every string from an input file reaches the
HTML through Jinja2's autoescaping.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jinja2

from pgx import __version__
from pgx.kb import Manifest
from pgx.outputs import read_tsv, write_text_atomic

SCHEMA_VERSION = "1.1"
SENSITIVITY = {"sensitivity", "reduced_sensitivity"}
AGAINST = {"resistance", "no_benefit", "resistance_not_supported", "adverse_response"}

LIMITATIONS = [
    "Matches come from the bundled knowledge base only (CIViC, accepted evidence); absence of a "
    "match is not evidence of no benefit.",
    "Evidence levels are the source's own, with a harmonised A-D level beside them; they are not "
    "a treatment recommendation.",
    "Pharmacogene positions absent from the germline VCF are reported as missing, not as "
    "reference, unless the run says otherwise; CYP2D6 and HLA are taken only from outside calls.",
    "Copy number, structural variants and fusions are matched only when supplied as tables.",
]
DISCLAIMER = (
    "For research and for discussion by qualified clinicians. Not a medical device; every finding "
    "must be confirmed against the cited sources and the patient's full clinical picture."
)


def _rows(path: str | None) -> list[dict[str, str]]:
    if not path or not Path(path).exists():
        return []
    return read_tsv(path)


def _bool(value: str | bool) -> bool:
    return value is True or value == "true"


def _match_json(r: dict[str, str]) -> dict[str, Any]:
    return {
        "gene": r["gene"], "alteration": r["alteration"], "match_level": r["match_level"],
        "therapy": r["therapy"], "direction": r["direction"], "level": r["level"],
        "native_level": r["native_level"], "amp_tier": r["amp_tier"],
        "on_label": _bool(r["on_label"]), "tumor_type_relation": r["tumor_type_relation"],
        "disease": r["disease"], "doid": r["doid"], "evidence_type": r["evidence_type"],
        "significance": r["significance"], "source": r["source"], "source_id": r["source_id"],
        "source_url": r["source_url"],
        "citations": [c for c in r["citations"].split(";") if c],
        "profile": r["profile"], "hgvsp": r["hgvsp"], "hgvsc": r["hgvsc"], "vaf": r["vaf"],
        "origin": r["origin"], "kb_version": r["kb_version"],
        "assessment": r.get("assessment", ""), "counter_evidence": r.get("counter_evidence", ""),
        "match_note": r.get("match_note", ""),
        "pgx_caution": r.get("pgx_caution", ""),
    }


def assessed_matches(matches_tsv: str | None, germline_matches_tsv: str | None) -> list[dict[str, Any]]:
    """Somatic and germline matches weighed together, per therapy (pgx.match.assess), in the
    matcher's order: a germline BRCA2 finding and a somatic resistance meet here."""
    from pgx.match import assess, rank

    rows: list[dict[str, Any]] = [{**r, "on_label": _bool(r["on_label"])}
                                  for r in _rows(matches_tsv) + _rows(germline_matches_tsv)]
    return rank(assess(rows))


def build_report(
    *,
    patient: str,
    tumor_type: dict[str, Any],
    build: str,
    inputs: dict[str, str],
    resources: Path,
    variants_tsv: str | None,
    matches_tsv: str | None,
    pharmacogenes_tsv: str | None,
    guidance_tsv: str | None,
    germline_matches_tsv: str | None = None,
    qc_json: str | None = None,
    settings: dict[str, Any] | None = None,
    generated_at: str | None = None,
    callable_mb: float = 0.0,
) -> dict[str, Any]:
    manifest = Manifest.load(resources)
    variants = _rows(variants_tsv)
    weighed = [_match_json(r) for r in assessed_matches(matches_tsv, germline_matches_tsv)]
    matches = [m for m in weighed if m["origin"] == "somatic"]
    germline = [m for m in weighed if m["origin"] == "germline"]
    calls = _rows(pharmacogenes_tsv)
    guidance = _rows(guidance_tsv)
    caution_drugs = {g["drug"] for g in guidance if _bool(g["caution"])}
    for m in matches:
        flagged = sorted(set(_therapy_drugs(m["therapy"])) & caution_drugs)
        m["pgx_caution"] = ", ".join(flagged)
    therapeutic = [m for m in matches if m["evidence_type"] == "Predictive"]
    sensitivity = [m for m in therapeutic if m["direction"] in SENSITIVITY]
    against = [m for m in therapeutic if m["direction"] in AGAINST]
    other = [m for m in matches if m["evidence_type"] != "Predictive"]
    matched_keys = {k for r in _rows(matches_tsv) for k in r["variant_keys"].split(";")}
    uncertain = [v for v in variants if v["variant_key"] not in matched_keys]
    by_level: dict[str, int] = {lvl: 0 for lvl in "ABCD"}
    for m in sensitivity + against:
        by_level[m["level"]] = by_level.get(m["level"], 0) + 1
    called = [c for c in calls if c["status"] in ("called", "ambiguous")]
    key_findings = _key_findings(sensitivity + [g for g in germline if g["direction"] in SENSITIVITY],
                                 against, guidance)
    qc = json.loads(Path(qc_json).read_text()) if qc_json and Path(qc_json).exists() else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "pipeline": {"name": "pgx", "version": __version__},
        "generated_at": generated_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "knowledge_base": {"label": manifest.label, "sources": manifest.data["sources"]},
        "patient": {"id": patient, "tumor_type": tumor_type, "build": build, "inputs": inputs},
        "summary": {
            "variants_analysed": len(variants),
            "matches_by_level": by_level,
            "therapy_matches": len(sensitivity),
            "resistance_or_no_benefit": len(against),
            "pharmacogenes_called": len(called),
            "pharmacogenes_tested": sum(1 for c in calls if c["status"] != "not_tested"),
            "pharmacogenes_not_tested": sorted(c["gene"] for c in calls if c["status"] == "not_tested"),
            "tmb": tumor_mutational_burden(variants, callable_mb) if variants_tsv else
            {"value": None, "note": "not computed: no tumor VCF"},
        },
        "key_findings": key_findings,
        "therapeutic": {"sensitivity": sensitivity, "resistance": against, "prognostic_diagnostic": other},
        "pharmacogenomics": {"calls": calls, "guidance": guidance},
        "germline_findings": germline,
        "uncertain_significance": {"count": len(uncertain), "table": "variants.tsv"},
        "qc": qc,
        "settings": _flatten(settings or {}),
        "references": _references(sensitivity + against + other + germline),
        "limitations": LIMITATIONS,
        "disclaimer": DISCLAIMER,
    }


CODING_TERMS = frozenset({
    "missense_variant", "synonymous_variant", "stop_gained", "stop_lost", "start_lost",
    "frameshift_variant", "inframe_insertion", "inframe_deletion", "protein_altering_variant",
    "coding_sequence_variant", "stop_retained_variant", "incomplete_terminal_codon_variant",
})


def tumor_mutational_burden(variants: list[dict[str, str]], callable_mb: float) -> dict[str, Any]:
    """Coding variants (SNVs and indels in a CDS, any effect) per megabase of callable sequence.

    The callable size belongs to the assay and must be configured; without it, TMB is not
    computed rather than guessed. No CIViC evidence is keyed on TMB, so it is reported, not matched."""
    coding = sum(1 for v in variants if set(v["consequence"].split("&")) & CODING_TERMS)
    if callable_mb <= 0:
        return {"value": None, "coding_variants": coding, "callable_mb": None,
                "note": "not computed: set tmb.callable_mb to the assay's callable size"}
    return {"value": round(coding / callable_mb, 2), "coding_variants": coding, "callable_mb": callable_mb,
            "note": "coding SNVs and indels per Mb of callable sequence"}


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _references(matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every citation the report relies on, once, with the evidence items citing it."""
    cited: dict[str, set[str]] = {}
    for m in matches:
        for c in m["citations"]:
            cited.setdefault(c, set()).add(m["source_id"])
    return [{"citation": c, "evidence": sorted(ids)} for c, ids in sorted(cited.items())]


def _key_findings(sensitivity: list[dict[str, Any]], against: list[dict[str, Any]],
                  guidance: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Drug first, one line each: therapies assessed `sensitive` at on-label level A/B (somatic
    or germline); therapies with sensitivity and decisive evidence against them, as
    conflicting, naming what speaks against; resistances at A/B; pharmacogenomic cautions.
    A drug the tumor resists is never listed as a plain recommendation."""
    from pgx.match import Assessment

    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for m in sensitivity:
        if m["level"] not in ("A", "B") or not m["on_label"] or m["therapy"] in seen:
            continue
        seen.add(m["therapy"])
        conflicting = m["assessment"] == Assessment.CONFLICTING.value
        out.append({"kind": "therapy", "drug": m["therapy"], "gene": m["gene"],
                    "alteration": m["alteration"], "origin": m["origin"],
                    "direction": "conflicting" if conflicting else m["direction"],
                    "counter_evidence": m["counter_evidence"] if conflicting else "",
                    "level": m["level"], "on_label": True, "source_id": m["source_id"]})
    for m in against:
        if m["level"] in ("A", "B") and m["direction"] == "resistance" and m["therapy"] not in seen:
            seen.add(m["therapy"])
            out.append({"kind": "therapy", "drug": m["therapy"], "gene": m["gene"],
                        "alteration": m["alteration"], "origin": m["origin"], "direction": m["direction"],
                        "counter_evidence": "", "level": m["level"], "on_label": m["on_label"],
                        "source_id": m["source_id"]})
    # Plain recommendations first, then conflicts, then resistances.
    order = {"sensitivity": 0, "reduced_sensitivity": 0, "conflicting": 1, "resistance": 2}
    out.sort(key=lambda k: order.get(str(k["direction"]), 3))
    # One line per gene result, naming the cancer-care drugs it changes.
    grouped: dict[str, list[dict[str, str]]] = {}
    for g in guidance:
        relevant = _bool(g["proposed_by_matching"]) or _bool(g.get("oncology_drug", "false"))
        if _bool(g["caution"]) and relevant:
            grouped.setdefault(g["genes"], []).append(g)
    for genes, rows in grouped.items():
        lookup = sorted(rows, key=lambda r: (r["source"] != "CPIC", len(r["lookup_key"])))[0]["lookup_key"]
        drugs = sorted({r["drug"] for r in rows})
        strongest = sorted({f"{r['source']} {r['classification']}" for r in rows})
        out.append({"kind": "pharmacogenomics", "drug": ", ".join(drugs), "gene": genes,
                    "alteration": readable_lookup(lookup), "direction": "genotype-guided recommendation applies",
                    "level": "; ".join(strongest), "on_label": None, "source_id": "CPIC/DPWG"})
    return out


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgx", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "" if v in ("", None) else f"{float(v) * 100:.1f}%"
    return env


def render_html(report: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(r=report)


def write_flagged_matches(matches_tsv: str | None, guidance_tsv: str | None, out: str,
                          germline_matches_tsv: str | None = None) -> None:
    """The final match table: every somatic and germline match, assessed together per therapy,
    plus `pgx_guidance` naming the drugs of that therapy whose pharmacogenomic guidance departs
    from standard for this patient."""
    from pgx.match import MATCH_COLUMNS
    from pgx.outputs import write_tsv_atomic

    caution = {g["drug"]: readable_lookup(g["lookup_key"]) for g in _rows(guidance_tsv) if _bool(g["caution"])}
    rows: list[dict[str, object]] = []
    for r in assessed_matches(matches_tsv, germline_matches_tsv):
        drugs = _therapy_drugs(r["therapy"])
        flagged = [f"{d} ({caution[d]})" for d in drugs if d in caution]
        rows.append({**r, "pgx_guidance": "; ".join(flagged)})
    header = []
    if matches_tsv:
        with open(matches_tsv, encoding="utf-8") as handle:
            header = [line[3:].rstrip("\n") for line in handle if line.startswith("## ")]
    else:
        header = ["no tumor VCF: nothing was matched"]
    write_tsv_atomic(out, [*MATCH_COLUMNS, "pgx_guidance"], rows, header)


def readable_lookup(key: str) -> str:
    """A guideline key as a reader says it: "UGT1A1={'*1': 1.0, '*28': 1.0}" → 'UGT1A1=*1/*28'."""
    import ast

    parts = []
    for part in key.split(";"):
        gene, _, value = part.partition("=")
        if value.startswith("{"):
            try:
                counts = ast.literal_eval(value)
                value = "/".join(a for a, n in sorted(counts.items()) for _ in range(int(n)))
            except (ValueError, SyntaxError, TypeError, AttributeError):
                pass
        parts.append(f"{gene}={value}")
    return "; ".join(parts)


def _therapy_drugs(therapy: str) -> list[str]:
    return [d.strip().lower() for d in therapy.replace(" then ", " + ").split(" + ") if d.strip()]


def write_report(report: dict[str, Any], json_out: str, html_out: str) -> None:
    from pgx.schemas import validate_report

    validate_report(report)
    html = render_html(report)
    write_text_atomic(json_out, json.dumps(report, indent=2, sort_keys=True) + "\n")
    write_text_atomic(html_out, html)
