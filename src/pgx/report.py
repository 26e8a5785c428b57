"""The per-patient report: report.json (the contract) and report.html rendered from it.

Every section is built from the step outputs only; every string from an input file reaches the
HTML through Jinja2's autoescaping.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from pgx import __version__
from pgx.errors import PgxInputError
from pgx.kb import Manifest
from pgx.match import read_variants, therapy_drugs
from pgx.outputs import read_json, read_tsv, write_text_atomic
from pgx.pharmacogenes import CALL_COLUMNS, GUIDANCE_COLUMNS

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


def _rows(path: str | None, needs: list[str], allowed: dict[str, tuple[str, ...]] | None = None,
          ) -> list[dict[str, str]]:
    if not path or not Path(path).exists():
        return []
    return read_tsv(path, needs, allowed)


def _guidance(path: str | None) -> list[dict[str, str]]:
    return _rows(path, GUIDANCE_COLUMNS, {"caution": ("true", "false")})


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
        "origin": r["origin"], "kb_version": r["kb_version"], "variant_keys": r.get("variant_keys", ""),
        "assessment": r.get("assessment", ""), "counter_evidence": r.get("counter_evidence", ""),
        "match_note": r.get("match_note", ""),
        "pgx_caution": r.get("pgx_caution", ""),
    }


def assessed_matches(matches_tsv: str | None, germline_matches_tsv: str | None) -> list[dict[str, Any]]:
    """Somatic and germline matches weighed together, per therapy (pgx.match.assess), in the
    matcher's order: a germline BRCA2 finding and a somatic resistance meet here."""
    from pgx.match import assess, rank, read_matches

    rows: list[dict[str, Any]] = [{**r, "on_label": _bool(r["on_label"])}
                                  for r in read_matches(matches_tsv) + read_matches(germline_matches_tsv)]
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
    weighed = [_match_json(r) for r in assessed_matches(matches_tsv, germline_matches_tsv)]
    variants = tally_variants(variants_tsv, weighed)
    matches = [m for m in weighed if m["origin"] == "somatic"]
    germline = [m for m in weighed if m["origin"] == "germline"]
    calls = _rows(pharmacogenes_tsv, CALL_COLUMNS)
    guidance = _guidance(guidance_tsv)
    caution_drugs = {g["drug"] for g in guidance if _bool(g["caution"])}
    for m in matches:
        flagged = sorted(set(therapy_drugs(m["therapy"])) & caution_drugs)
        m["pgx_caution"] = ", ".join(flagged)
    therapeutic = [m for m in matches if m["evidence_type"] == "Predictive"]
    sensitivity = [m for m in therapeutic if m["direction"] in SENSITIVITY]
    against = [m for m in therapeutic if m["direction"] in AGAINST]
    other = [m for m in matches if m["evidence_type"] != "Predictive"]
    # One source for every number: the tiles count the lists the sections show.
    by_level: dict[str, int] = {lvl: 0 for lvl in "ABCD"}
    for m in therapeutic:
        by_level[m["level"]] = by_level.get(m["level"], 0) + 1
    called = [c for c in calls if c["status"] in ("called", "ambiguous")]
    therapies = therapy_assessments([m for m in weighed if m["evidence_type"] == "Predictive"], guidance, calls)
    key_findings = _key_findings(therapies, germline, guidance, calls)
    qc = read_json(qc_json, "QC JSON") if qc_json and Path(qc_json).exists() else {}
    if not isinstance(qc, dict):
        raise PgxInputError(str(qc_json), "QC JSON must be an object")
    return {
        "schema_version": SCHEMA_VERSION,
        "pipeline": {"name": "pgx", "version": __version__},
        "generated_at": generated_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "knowledge_base": {"label": manifest.label, "sources": manifest.data["sources"]},
        "patient": {"id": patient, "tumor_type": tumor_type, "build": build, "inputs": inputs},
        "summary": {
            "variants_analysed": variants.analysed,
            "matches_by_level": by_level,
            "therapy_matches": len(sensitivity),
            "resistance_or_no_benefit": len(against),
            "therapy_evidence_items": len(therapeutic),
            "therapies_to_discuss": len(therapies["to_discuss"]),
            "therapies_resistance": len(therapies["resistance"]),
            "germline_findings": len({m["alteration"] for m in germline}),
            "pharmacogenes_called": len(called),
            "pharmacogenes_tested": sum(1 for c in calls if c["status"] != "not_tested"),
            "pharmacogenes_not_tested": sorted(c["gene"] for c in calls if c["status"] == "not_tested"),
            "tmb": tumor_mutational_burden(variants.coding, callable_mb) if variants_tsv else
            {"value": None, "note": "not computed: no tumor VCF"},
        },
        "key_findings": key_findings,
        "therapies": therapies,
        "variants_of_interest": variants.of_interest,
        "evidence_groups": _evidence_groups(weighed),
        "therapeutic": {"sensitivity": sensitivity, "resistance": against, "prognostic_diagnostic": other},
        "pharmacogenomics": {"calls": calls, "guidance": guidance},
        "germline_findings": germline,
        "uncertain_significance": {"count": variants.unmatched, "table": "variants.tsv"},
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


def tumor_mutational_burden(coding_variants: int, callable_mb: float) -> dict[str, Any]:
    """Coding variants (SNVs and indels in a CDS, any effect) per megabase of callable sequence.

    The callable size belongs to the assay and must be configured; without it, TMB is not
    computed rather than guessed. No CIViC evidence is keyed on TMB, so it is reported, not matched."""
    if callable_mb <= 0:
        return {"value": None, "coding_variants": coding_variants, "callable_mb": None,
                "note": "not computed: set tmb.callable_mb to the assay's callable size"}
    return {"value": round(coding_variants / callable_mb, 2), "coding_variants": coding_variants,
            "callable_mb": callable_mb, "note": "coding SNVs and indels per Mb of callable sequence"}


def is_coding(variant: dict[str, str]) -> bool:
    return bool(set(variant["consequence"].split("&")) & CODING_TERMS)


@dataclass(slots=True)
class VariantTally:
    """What the report takes from variants.tsv, gathered in one pass over the file so that
    memory stays flat however many variants a genome has."""

    analysed: int = 0
    unmatched: int = 0  # of uncertain significance: no evidence names them
    coding: int = 0
    of_interest: list[dict[str, Any]] = field(default_factory=list)


def tally_variants(variants_tsv: str | None, matches: list[dict[str, Any]]) -> VariantTally:
    """Counts, and the analysed variants behind any somatic match: gene, protein change, HGVSc,
    consequence, VAF, depth, filters (the rest stay in variants.tsv)."""
    tally = VariantTally()
    if not variants_tsv or not Path(variants_tsv).exists():
        return tally
    matched = {k for m in matches for k in m.get("variant_keys", "").split(";") if k}
    somatic = {k for m in matches if m["origin"] == "somatic" for k in m.get("variant_keys", "").split(";") if k}
    for v in read_variants(variants_tsv):
        tally.analysed += 1
        key = v["variant_key"]
        tally.unmatched += key not in matched
        tally.coding += is_coding(v)
        if key in somatic:
            tally.of_interest.append({
                "gene": v["gene"], "protein_change": v.get("protein_change") or "", "hgvsc": v.get("hgvsc") or "",
                "consequence": v.get("consequence") or "", "vaf": v.get("vaf") or "", "depth": v.get("depth") or "",
                "filter": v.get("filter") or "", "origin": "somatic", "variant_key": key})
    return tally


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


_VERDICT_ORDER = {"sensitive": 0, "conflicting": 1, "resistant": 2, "no_benefit": 3}


def therapy_assessments(predictive: list[dict[str, Any]], guidance: list[dict[str, str]],
                        calls: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """One row per therapy (its set of drugs), from the per-therapy assessment of the matcher:
    best on-label level, the supporting alterations (somatic or germline), the evidence against,
    the pharmacogenomic caution in short, and how many evidence items stand behind it.
    Sections: therapies to discuss (sensitive or conflicting, on-label level A/B); resistance and
    no benefit (on-label A/B); everything else (off-label, preclinical)."""
    from pgx.match import LEVELS

    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for m in predictive:
        if m["therapy"]:
            groups.setdefault(tuple(sorted(therapy_drugs(m["therapy"]))), []).append(m)
    cautions = pgx_cautions(guidance, calls)
    rows: list[dict[str, Any]] = []
    for drugs, group in groups.items():
        sensitive = [m for m in group if m["direction"] in SENSITIVITY]
        against = [m for m in group if m["direction"] in AGAINST]

        def best(items: list[dict[str, Any]], on_label: bool) -> str:
            levels = [m["level"] for m in items if m["on_label"] or not on_label]
            return min(levels, key=LEVELS.index) if levels else ""

        supporting: dict[str, dict[str, Any]] = {}
        for m in sorted(sensitive, key=lambda m: (LEVELS.index(m["level"]), not m["on_label"])):
            supporting.setdefault(f"{m['gene']} {m['alteration']}", {
                "gene": m["gene"], "alteration": m["alteration"], "origin": m["origin"],
                "level": m["level"], "on_label": m["on_label"]})
        rows.append({
            "therapy": (sensitive or group)[0]["therapy"],
            "drugs": list(drugs),
            "assessment": group[0]["assessment"],
            "best_on_label_level": best(sensitive, True),
            "best_level": best(sensitive, False),
            "resistance_on_label_level": best(against, True),
            "supporting": list(supporting.values()),
            "counter_evidence": [c for c in group[0]["counter_evidence"].split("; ") if c],
            "pgx": [c for d in drugs for c in cautions.get(d, [])],
            "evidence_items": len({m["source_id"] for m in group}),
            "origins": sorted({m["origin"] for m in group}),
            "_rank": len(rows),  # the matcher's order: its strongest, most exact evidence first
        })
    strong = ("A", "B")
    to_discuss = [t for t in rows if t["assessment"] in ("sensitive", "conflicting") and t["best_on_label_level"] in strong]
    resistance = [t for t in rows if t["assessment"] in ("resistant", "no_benefit")
                  and t["resistance_on_label_level"] in strong]
    listed = {id(t) for t in to_discuss + resistance}
    rest = [t for t in rows if id(t) not in listed]

    def order(t: dict[str, Any]) -> tuple[int, int, int]:
        level = t["best_on_label_level"] or t["resistance_on_label_level"] or t["best_level"] or "D"
        return (_VERDICT_ORDER.get(t["assessment"], 4), LEVELS.index(level), t["_rank"])

    sections = {"to_discuss": sorted(to_discuss, key=order), "resistance": sorted(resistance, key=order),
                "other": sorted(rest, key=order)}
    for section in sections.values():
        for t in section:
            del t["_rank"]
    return sections


def _caution_entries(guidance: list[dict[str, str]], calls: list[dict[str, str]]) -> list[dict[str, str]]:
    """The recommendations that depart from standard, CPIC first, each with its gene result
    ('DPYD Intermediate Metabolizer (activity 1.0)'), the first sentence of the recommendation,
    source and strength."""
    phenotype = {c["gene"]: c for c in calls}
    out: list[dict[str, str]] = []
    for g in sorted(guidance, key=lambda g: (g["source"] != "CPIC", g["drug"])):
        if not _bool(g["caution"]):
            continue
        results = []
        for gene in g["genes"].split(","):
            c = phenotype.get(gene, {})
            result = c.get("phenotype") or readable_lookup(g["lookup_key"])
            if c.get("activity_score"):
                result += f" (activity {c['activity_score']})"
            results.append(f"{gene} {result}")
        first = g["recommendation"].split(". ")[0].strip()
        out.append({"drug": g["drug"].lower(), "gene": g["genes"].split(",")[0], "result": "; ".join(results),
                    "recommendation": first if len(first) <= 160 else first[:157] + "...",
                    "strength": f"{g['source']}, {g['classification'] or 'unclassified'}"})
    return out


def pgx_cautions(guidance: list[dict[str, str]], calls: list[dict[str, str]]) -> dict[str, list[str]]:
    """Drug → its cautions in short ('DPYD Intermediate Metabolizer (activity 1.0): Reduce
    starting dose by 50%... (CPIC, Strong)')."""
    out: dict[str, list[str]] = {}
    for e in _caution_entries(guidance, calls):
        out.setdefault(e["drug"], []).append(f"{e['result']}: {e['recommendation']} ({e['strength']})")
    return out


def _evidence_groups(matches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evidence items grouped per alteration × therapy, best first: what the report expands."""
    from pgx.match import LEVELS

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for m in matches:
        groups.setdefault((f"{m['gene']} {m['alteration']}", m["therapy"] or "(no therapy)", m["origin"]), []).append(m)
    out = []
    for (alteration, therapy, origin), items in groups.items():
        items.sort(key=lambda m: (LEVELS.index(m["level"]), not m["on_label"]))
        out.append({"alteration": alteration, "therapy": therapy, "origin": origin,
                    "best_level": items[0]["level"], "on_label": items[0]["on_label"],
                    "directions": sorted({m["direction"] for m in items}),
                    "assessment": items[0]["assessment"], "items": items})
    out.sort(key=lambda g: (LEVELS.index(g["best_level"]), not g["on_label"], g["alteration"], g["therapy"]))
    return out


def _key_findings(therapies: dict[str, list[dict[str, Any]]], germline: list[dict[str, Any]],
                  guidance: list[dict[str, str]], calls: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The first screen, drug first, one line each, strongest level first: therapies to discuss
    (a conflicting one names what speaks against it: never a plain recommendation), resistance
    at on-label A/B, germline findings whatever their level, and pharmacogenomic cautions for
    drugs of cancer care with the recommendation itself."""
    from pgx.match import LEVELS

    out: list[dict[str, Any]] = []
    for t in therapies["to_discuss"] + therapies["resistance"]:
        lead = t["supporting"][0] if t["supporting"] else {"gene": "", "alteration": "", "origin": ""}
        level = t["best_on_label_level"] or t["resistance_on_label_level"]
        out.append({"kind": "therapy", "drug": t["therapy"], "gene": lead["gene"],
                    "alteration": " ; ".join(f"{s['gene']} {s['alteration']}" for s in t["supporting"][:3])
                    or (t["counter_evidence"][0].split(":")[0] if t["counter_evidence"] else ""),
                    "origin": lead["origin"],
                    "direction": {"sensitive": "sensitivity", "conflicting": "conflicting"}.get(t["assessment"], "resistance"),
                    "counter_evidence": "; ".join(t["counter_evidence"][:2]) if t["assessment"] == "conflicting" else "",
                    "level": level, "on_label": True, "source_id": f"{t['evidence_items']} evidence item{'' if t['evidence_items'] == 1 else 's'}",
                    "pgx": t["pgx"]})
    # One line per germline alteration and direction, naming its therapies, best level first.
    per_alteration: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for m in sorted(germline, key=lambda m: (LEVELS.index(m["level"]), not m["on_label"], m["therapy"])):
        if m["therapy"]:
            per_alteration.setdefault((m["gene"], m["alteration"], m["direction"]), []).append(m)
    for (gene, alteration, _), items in per_alteration.items():
        lead = items[0]
        out.append({"kind": "germline", "drug": ", ".join(dict.fromkeys(m["therapy"] for m in items)),
                    "gene": gene, "alteration": f"{gene} {alteration}", "origin": "germline",
                    "direction": lead["direction"], "counter_evidence": "", "level": lead["level"],
                    "on_label": lead["on_label"], "source_id": _first_ids([m["source_id"] for m in items]),
                    "disease": lead["disease"], "pgx": []})
    kinds = {"therapy": 0, "germline": 1}
    order = {"sensitivity": 0, "conflicting": 1, "resistance": 2}
    out.sort(key=lambda k: (LEVELS.index(k["level"]), kinds[k["kind"]], order.get(k["direction"], 3)))
    # One line per gene result, naming the cancer-care drugs it changes and what to do for each
    # (drugs sharing a recommendation share its sentence), strongest guideline first.
    per_result: dict[str, list[dict[str, str]]] = {}
    for e in _caution_entries([g for g in guidance if _bool(g["proposed_by_matching"]) or
                               _bool(g.get("oncology_drug", "false"))], calls):
        per_result.setdefault(e["result"], []).append(e)
    for result, entries in per_result.items():
        advice: dict[tuple[str, str], list[str]] = {}
        for e in entries:
            drugs = advice.setdefault((e["recommendation"], e["strength"]), [])
            if e["drug"] not in drugs:
                drugs.append(e["drug"])
        out.append({"kind": "pharmacogenomics", "drug": ", ".join(sorted({e["drug"] for e in entries})),
                    "gene": entries[0]["gene"], "alteration": result,
                    "recommendations": [{"drugs": drugs, "recommendation": rec, "strength": strength}
                                        for (rec, strength), drugs in advice.items()],
                    "direction": "pharmacogenomic guidance", "counter_evidence": "",
                    "level": "; ".join(dict.fromkeys(e["strength"].replace(", ", " ") for e in entries)),
                    "on_label": None, "source_id": "CPIC/DPWG", "pgx": []})
    return out


def _first_ids(ids: list[str], shown: int = 3) -> str:
    unique = list(dict.fromkeys(ids))
    more = f" and {len(unique) - shown} more" if len(unique) > shown else ""
    return ", ".join(unique[:shown]) + more


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgx", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible_controls,
    )
    env.filters["pct"] = lambda v: "" if v in ("", None) else f"{float(v) * 100:.1f}%"
    env.filters["safe_url"] = safe_url
    env.filters["css_text"] = lambda v: "".join(ch if ch.isalnum() or ch in " ._-" else "?" for ch in str(v))[:60]
    return env


# Unicode's bidirectional overrides, embeddings, isolates and marks: inside a sample name or a
# user knowledge base's text they can make the report show a gene, dose or drug reversed or
# moved (the "Trojan Source" trick).
_BIDI_CONTROLS = {ord(ch): f"[U+{ord(ch):04X}]" for ch in
                  "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"}


def visible_controls(value: object) -> object:
    """Every value the templates print, with bidi controls shown as their code point."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return value.translate(_BIDI_CONTROLS)
    return value


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_url(url: object) -> str:
    """Only http(s) links, or a relative path (a cohort's link to each report): anything else
    (javascript:, data:, file:) from a user knowledge base or a file name is rendered as no link."""
    text = str(url or "").strip()
    if text.lower().startswith(("https://", "http://")):
        return text
    if text and not _SCHEME.match(text) and not text.startswith("//") and "\\" not in text:
        return text
    return "#"


def render_html(report: dict[str, Any]) -> str:
    return _environment().get_template("report.html.j2").render(r=report)


def write_flagged_matches(matches_tsv: str | None, guidance_tsv: str | None, out: str,
                          germline_matches_tsv: str | None = None) -> None:
    """The final match table: every somatic and germline match, assessed together per therapy,
    plus `pgx_guidance` naming the drugs of that therapy whose pharmacogenomic guidance departs
    from standard for this patient."""
    from pgx.match import MATCH_COLUMNS
    from pgx.outputs import table_comments, write_tsv_atomic

    caution = {g["drug"]: readable_lookup(g["lookup_key"]) for g in _guidance(guidance_tsv) if _bool(g["caution"])}
    rows: list[dict[str, object]] = []
    for r in assessed_matches(matches_tsv, germline_matches_tsv):
        drugs = therapy_drugs(r["therapy"])
        flagged = [f"{d} ({caution[d]})" for d in drugs if d in caution]
        rows.append({**r, "pgx_guidance": "; ".join(flagged)})
    header = table_comments(matches_tsv) if matches_tsv else ["no tumor VCF: nothing was matched"]
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


def write_report(report: dict[str, Any], json_out: str, html_out: str) -> None:
    from pgx.schemas import validate_report

    validate_report(report)
    html = render_html(report)
    write_text_atomic(json_out, json.dumps(report, indent=2, sort_keys=True) + "\n")
    write_text_atomic(html_out, html)
