"""Annotated variants × knowledge base → therapy matches, tumor-type aware and ranked.

Every match records how it was reached (`match_level`), the source's own level beside the
harmonised one, whether the evidence is for this tumor type, and where the evidence comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pgx.annotate import LOSS_OF_FUNCTION, PROTEIN_ALTERING
from pgx.errors import PgxInputError
from pgx.kb import Manifest, load_table
from pgx.ontology import Ontology, TumorType, is_on_label
from pgx.outputs import read_tsv

MATCH_LEVELS = ("exact_genomic", "protein", "codon", "exon", "gene", "copy_number", "fusion")
LEVELS = ("A", "B", "C", "D")

MATCH_COLUMNS = [
    "gene", "alteration", "match_level", "therapy", "direction", "level", "native_level",
    "amp_tier", "on_label", "tumor_type_relation", "disease", "doid", "evidence_type",
    "significance", "source", "source_id", "citations", "source_url", "rating", "variant_origin",
    "profile", "profile_id", "therapy_interaction", "variant_keys", "hgvsp", "hgvsc",
    "consequence", "vaf", "origin", "kb_version",
]

SOMATIC_ORIGINS = frozenset({"Somatic", "Unknown", "N/A", "Combined", ""})
GERMLINE_ORIGINS = frozenset({"Rare Germline", "Common Germline", "Combined"})


@dataclass(frozen=True, slots=True)
class Alteration:
    """One thing seen in the patient: a variant, a copy-number call or a fusion."""

    gene: str
    label: str
    keys: str
    hgvsp: str = ""
    hgvsc: str = ""
    consequence: str = ""
    vaf: str = ""
    ref_aa: str = ""
    codon: int | None = None
    codon_end: int | None = None
    alt_aa: str = ""
    protein_kind: str = ""
    protein_change: str = ""
    exon: int | None = None
    is_hotspot_codon: bool = False
    in_inactivated_gene: bool = False  # the KB curates loss of this gene as a cancer event
    genomic_key: str = ""
    rsid: str = ""
    copy_number: str = ""
    fusion: tuple[str, str] | None = None


@dataclass(slots=True)
class KnowledgeBase:
    variants: dict[int, dict[str, str]]
    by_gene: dict[str, list[int]]
    profiles: list[dict[str, str]]
    evidence_by_profile: dict[int, list[dict[str, str]]]
    hotspot_codons: frozenset[tuple[str, int]]
    version: str
    inactivated_genes: frozenset[str] = frozenset()

    @classmethod
    def load(cls, resources: Path, extra: list[Path] | tuple[Path, ...] = ()) -> KnowledgeBase:
        """The bundled CIViC tables, plus any user knowledge bases in the same table format
        (a folder with variants.tsv, profiles.tsv, evidence.tsv and source.json)."""
        manifest = Manifest.load(resources)
        tables = [("CIViC", 0, load_table(resources, "kb/civic/variants.tsv"),
                   load_table(resources, "kb/civic/profiles.tsv"), load_table(resources, "kb/civic/evidence.tsv"))]
        label = manifest.label
        for k, folder in enumerate(extra, start=1):
            source = _user_source(folder)
            label += f"; {source['name']} {source['version']} (user knowledge base, {source['license']})"
            tables.append((source["name"], k * _ID_OFFSET, *_user_tables(folder)))
        variants: dict[int, dict[str, str]] = {}
        profiles: list[dict[str, str]] = []
        evidence: dict[int, list[dict[str, str]]] = {}
        for name, offset, variant_rows, profile_rows, evidence_rows in tables:
            for r in variant_rows:
                variants[int(r["variant_id"]) + offset] = r
            for r in profile_rows:
                profiles.append({**r, "profile_id": str(int(r["profile_id"]) + offset),
                                 "variant_ids": ",".join(str(int(v) + offset) for v in r["variant_ids"].split(",") if v),
                                 "expression": _shift_ids(r["expression"], offset)})
            for e in evidence_rows:
                evidence.setdefault(int(e["profile_id"]) + offset, []).append({**e, "_source": name})
        by_gene: dict[str, list[int]] = {}
        for vid, r in variants.items():
            by_gene.setdefault(r["gene"], []).append(vid)
            partner = r["partner_5"]
            if partner and partner != r["gene"]:
                by_gene.setdefault(partner, []).append(vid)
        codons = frozenset(
            (r["gene"], int(r["codon"])) for r in load_table(resources, "annotation/codons.GRCh38.tsv")
        )
        inactivated = frozenset(
            r["gene"] for r in variants.values()
            if r["consequence_class"] in ("loss_of_function", "frameshift", "deletion") or r["kind"] == "frameshift")
        return cls(variants, by_gene, profiles, evidence, codons, label, inactivated)


def _shift_ids(expression: str, offset: int) -> str:
    return re.sub(r"v(\d+)", lambda m: f"v{int(m[1]) + offset}", expression)


_ID_OFFSET = 10_000_000  # keeps each user knowledge base's ids apart from CIViC's


def _user_source(folder: Path) -> dict[str, str]:
    import json

    path = folder / "source.json"
    if not path.exists():
        raise PgxInputError(str(path), "a user knowledge base needs source.json (name, version, license)")
    source = json.loads(path.read_text())
    missing = [k for k in ("name", "version", "license") if not source.get(k)]
    if missing:
        raise PgxInputError(str(path), f"missing {', '.join(missing)}")
    if source["name"] == "CIViC":
        raise PgxInputError(str(path), "name 'CIViC' is taken by the bundled knowledge base")
    return {k: str(v) for k, v in source.items()}


def _user_tables(folder: Path) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    from pgx.kb.civic import EVIDENCE_COLUMNS, PROFILE_COLUMNS, VARIANT_COLUMNS

    out = []
    for name, columns in (("variants", VARIANT_COLUMNS), ("profiles", PROFILE_COLUMNS), ("evidence", EVIDENCE_COLUMNS)):
        path = folder / f"{name}.tsv"
        if not path.exists():
            raise PgxInputError(str(path), "file of the user knowledge base does not exist")
        rows = read_tsv(path)
        absent = [c for c in columns if rows and c not in rows[0] and c not in _OPTIONAL_USER_COLUMNS]
        if absent:
            raise PgxInputError(str(path), f"missing column(s) {', '.join(absent)}", record="header")
        out.append([{c: r.get(c, "") or "" for c in [*columns, "url"]} for r in rows])
    return out[0], out[1], out[2]


_OPTIONAL_USER_COLUMNS = frozenset({
    "grch37_chrom", "grch37_start", "grch37_stop", "grch37_ref", "grch37_alt", "grch38_chrom",
    "grch38_start", "grch38_stop", "transcript", "assertion_ids", "amp_category",
    "regulatory_approval", "nccn_guideline", "nct_ids", "rsid", "partner_5", "partner_3", "exon",
    "ref_aa", "alt_aa", "codon", "codon_end", "rating", "asco_abstract_id", "citation",
})


def anchorless_key(chrom: str, pos: int, ref: str, alt: str) -> str:
    """Genomic key without VCF's anchor base, the way CIViC writes coordinates."""
    chrom = chrom.removeprefix("chr")
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        return f"{chrom}:{pos + 1}:{ref[1:]}:{alt[1:]}"
    return f"{chrom}:{pos}:{ref}:{alt}"


def alterations_from_variants(rows: Iterable[dict[str, str]], build: str,
                              hotspots: frozenset[tuple[str, int]],
                              inactivated_genes: frozenset[str] = frozenset()) -> list[Alteration]:
    out = []
    for r in rows:
        codon = int(r["codon"]) if r.get("codon") else None
        gene = r.get("gene") or ""
        # A protein change when its residues are known; else the coding change (c.5946del),
        # which says more than "codon 1982 frameshift".
        if r.get("ref_aa"):
            label = r["protein_change"]
        else:
            label = r.get("hgvsc") or r.get("protein_change") or r["variant_key"]
        out.append(Alteration(
            gene=gene,
            label=label,
            keys=r["variant_key"],
            hgvsp=r.get("hgvsp", ""),
            hgvsc=r.get("hgvsc", ""),
            consequence=r.get("consequence", ""),
            vaf=r.get("vaf", ""),
            ref_aa=r.get("ref_aa", ""),
            codon=codon,
            codon_end=int(r["codon_end"]) if r.get("codon_end") else codon,
            alt_aa=r.get("alt_aa", ""),
            protein_kind=r.get("protein_kind", ""),
            protein_change=r.get("protein_change", ""),
            exon=int(r["exon"]) if r.get("exon") else None,
            is_hotspot_codon=(gene, codon) in hotspots if codon else False,
            in_inactivated_gene=gene in inactivated_genes,
            genomic_key=f"{build}:" + anchorless_key(r["chrom"], int(r["pos"]), r["ref"], r["alt"]),
            rsid=(r.get("id") or "").lower(),
        ))
    return out


def alterations_from_cna(path: str) -> list[Alteration]:
    """Per-patient copy-number TSV: columns gene and call (amplification / deletion)."""
    out = []
    for r in _read_optional(path, ("gene", "call")):
        call = r["call"].strip().lower()
        if call in ("amp", "amplification", "gain"):
            call = "amplification"
        elif call in ("del", "deletion", "loss", "homozygous_deletion"):
            call = "deletion"
        else:
            raise PgxInputError(path, f"unknown copy-number call {r['call']!r}", record=r["gene"])
        out.append(Alteration(gene=r["gene"], label=f"{call}", keys=f"CNA:{r['gene']}:{call}",
                              copy_number=call))
    return out


def alterations_from_fusions(path: str) -> list[Alteration]:
    """Per-patient fusion TSV: columns gene_5 and gene_3."""
    out = []
    for r in _read_optional(path, ("gene_5", "gene_3")):
        label = f"{r['gene_5']}::{r['gene_3']}"
        out.append(Alteration(gene=r["gene_3"], label=label, keys=f"FUSION:{label}",
                              fusion=(r["gene_5"], r["gene_3"])))
    return out


def _read_optional(path: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path:
        return []
    if not Path(path).exists():
        raise PgxInputError(path, "file does not exist")
    rows = read_tsv(path)
    if rows:
        missing = [c for c in required if c not in rows[0]]
        if missing:
            raise PgxInputError(path, f"missing column(s) {', '.join(missing)}", record="header")
    return rows


def satisfies(alt: Alteration, spec: dict[str, str]) -> str | None:
    """The match level at which the patient's alteration meets a KB variant, or None."""
    kind = spec["kind"]
    if alt.copy_number or alt.fusion:
        if kind == "copy_number" and alt.copy_number == spec["consequence_class"] and alt.gene == spec["gene"]:
            return "copy_number"
        if kind == "fusion" and alt.fusion:
            five, three = alt.fusion
            if spec["partner_5"] or spec["partner_3"]:
                # Named partners must be on their side; an unnamed side ('v::RET') is any gene.
                if spec["partner_5"] in ("", five) and spec["partner_3"] in ("", three):
                    return "fusion"
            elif spec["gene"] in (five, three):
                return "fusion"
        return None
    if alt.gene != spec["gene"]:
        return None
    if alt.genomic_key and spec["grch37_start"]:
        build, _, key = alt.genomic_key.partition(":")
        chrom, start = (spec["grch37_chrom"], spec["grch37_start"]) if build == "GRCh37" else (
            spec["grch38_chrom"], spec["grch38_start"])
        if start and key == f"{chrom}:{start}:{spec['grch37_ref']}:{spec['grch37_alt']}":
            return "exact_genomic"
    if kind == "rsid":
        return "exact_genomic" if alt.rsid and alt.rsid == spec["rsid"] else None
    consequences = set(alt.consequence.split("&"))
    codon = int(spec["codon"]) if spec["codon"] else None
    if kind == "protein" and alt.codon == codon and alt.protein_kind in ("missense", "nonsense"):
        if alt.ref_aa == spec["ref_aa"] and alt.alt_aa in spec["alt_aa"].split("/"):
            return "protein"
        return None
    if kind == "codon" and codon is not None and alt.protein_kind in ("missense", "nonsense"):
        end = int(spec["codon_end"]) if spec["codon_end"] else codon
        wanted = {codon, end} if spec["consequence_class"] == "codon_list" else set(range(codon, end + 1))
        return "codon" if alt.codon in wanted else None
    if kind == "frameshift":
        return "protein" if alt.protein_kind == "frameshift" and alt.codon == codon else None
    if kind == "protein_indel":
        name = spec["name"].lower()
        return "protein" if alt.protein_change and alt.protein_change.lower() == name else None
    if kind == "exon":
        if alt.exon is None or str(alt.exon) != spec["exon"]:
            return None
        cls = spec["consequence_class"]
        if cls == "deletion" and consequences & {"inframe_deletion", "frameshift_variant"}:
            return "exon" if "inframe_deletion" in consequences else None
        if cls == "insertion" and "inframe_insertion" in consequences:
            return "exon"
        if cls in ("mutation", "missense_mutation") and consequences & PROTEIN_ALTERING:
            return "exon"
        if cls == "frameshift" and "frameshift_variant" in consequences:
            return "exon"
        return None
    if kind == "gene":
        cls = spec["consequence_class"]
        if cls == "loss_of_function" and consequences & LOSS_OF_FUNCTION:
            return "gene"
        if cls == "frameshift" and "frameshift_variant" in consequences:
            return "gene"
        # Gene-level "Mutation" evidence would flood the report with passengers: only a
        # hotspot codon, or a loss-of-function change in a gene whose loss the knowledge base
        # curates as a cancer event (a frameshift in an oncogene is not its activation).
        if cls == "any_mutation" and consequences & PROTEIN_ALTERING:
            if alt.is_hotspot_codon or (consequences & LOSS_OF_FUNCTION and alt.in_inactivated_gene):
                return "gene"
        return None
    return None


_EXPR_TOKEN = re.compile(r"\(|\)|AND|OR|NOT|v\d+")


def evaluate(expression: str, present: set[int]) -> bool:
    """Evaluate a profile's logic ('v17 AND ( v12 OR v20 )') over the matched variant ids."""
    tokens = _EXPR_TOKEN.findall(expression)
    pos = 0

    def parse_or() -> bool:
        nonlocal pos
        value = parse_and()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            value = parse_and() or value
        return value

    def parse_and() -> bool:
        nonlocal pos
        value = parse_not()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            value = parse_not() and value
        return value

    def parse_not() -> bool:
        nonlocal pos
        if pos < len(tokens) and tokens[pos] == "NOT":
            pos += 1
            return not parse_not()
        return parse_atom()

    def parse_atom() -> bool:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "(":
            value = parse_or()
            pos += 1  # ')'
            return value
        return int(token[1:]) in present

    return bool(tokens) and parse_or()


def direction(evidence: dict[str, str]) -> str:
    significance = evidence["significance"]
    supports = evidence["evidence_direction"] != "Does Not Support"
    if evidence["evidence_type"] != "Predictive":
        return significance.lower().replace(" ", "_").replace("/", "_") + ("" if supports else "_not_supported")
    if not supports:
        # Evidence against a response is never shown as benefit.
        return "resistance_not_supported" if significance == "Resistance" else "no_benefit"
    return {
        "Sensitivity/Response": "sensitivity",
        "Reduced Sensitivity": "reduced_sensitivity",
        "Resistance": "resistance",
        "Adverse Response": "adverse_response",
    }.get(significance, significance.lower())


def harmonised_level(native: str, on_label: bool) -> str:
    """CIViC A–E → pgx A–D: A/B need this tumor type, else C; D and E (preclinical,
    inferential) are D."""
    if native in ("A", "B"):
        return native if on_label else "C"
    if native == "C":
        return "C"
    return "D"


def amp_tier(level: str, native: str, on_label: bool) -> str:
    """AMP/ASCO/CAP (Li et al. 2017): Tier I A/B in this tumor type; Tier II C/D otherwise."""
    if level in ("A", "B") and on_label:
        return f"Tier I (Level {level})"
    if native in ("A", "B") or level == "C":
        return "Tier II (Level C)"
    return "Tier II (Level D)"


def therapy_rows(evidence: dict[str, str]) -> list[str]:
    drugs = [d for d in evidence["therapies"].split(";") if d]
    if not drugs:
        return [""]
    interaction = evidence["therapy_interaction_type"]
    if interaction == "Substitutes":
        return drugs
    if interaction == "Sequential":
        return [" then ".join(drugs)]
    return [" + ".join(drugs)]


def match(
    alterations: list[Alteration],
    kb: KnowledgeBase,
    ontology: Ontology,
    tumor: TumorType,
    origin: str = "somatic",
) -> list[dict[str, object]]:
    hits: dict[int, dict[int, tuple[str, Alteration]]] = {}
    for alt in alterations:
        for vid in kb.by_gene.get(alt.gene, []) + _fusion_partners(alt, kb):
            level = satisfies(alt, kb.variants[vid])
            if level is None:
                continue
            previous = hits.setdefault(vid, {}).get(id(alt))
            if previous is None or MATCH_LEVELS.index(level) < MATCH_LEVELS.index(previous[0]):
                hits[vid][id(alt)] = (level, alt)
    present = set(hits)
    origins = SOMATIC_ORIGINS if origin == "somatic" else GERMLINE_ORIGINS
    rows: list[dict[str, object]] = []
    for profile in kb.profiles:
        if profile["logic"] == "unparsed" or not profile["expression"]:
            continue
        ids = [int(x) for x in profile["variant_ids"].split(",") if x]
        if not present.intersection(ids) or not evaluate(profile["expression"], present):
            continue
        parts = [hit for vid in ids if vid in hits for hit in hits[vid].values()]
        worst = max(parts, key=lambda h: MATCH_LEVELS.index(h[0]))
        alts = sorted({h[1] for h in parts}, key=lambda a: a.keys)
        for evidence in kb.evidence_by_profile.get(int(profile["profile_id"]), []):
            if evidence["variant_origin"] not in origins:
                continue
            if origin == "germline" and evidence["evidence_type"] != "Predictive":
                continue  # germline findings relevant to therapy; cancer risk is not reported here
            rows.extend(_rows_for(evidence, profile, worst[0], alts, kb, ontology, tumor, origin))
    return rank(rows)


def _fusion_partners(alt: Alteration, kb: KnowledgeBase) -> list[int]:
    if not alt.fusion:
        return []
    return [v for v in kb.by_gene.get(alt.fusion[0], []) if v not in kb.by_gene.get(alt.gene, [])]


def _rows_for(evidence: dict[str, str], profile: dict[str, str], match_level: str,
              alts: list[Alteration], kb: KnowledgeBase, ontology: Ontology, tumor: TumorType,
              origin: str) -> list[dict[str, object]]:
    relation = ontology.relation(evidence["doid"], evidence["disease"], tumor)
    native = evidence["evidence_level"]
    on_label = is_on_label(relation, native)
    level = harmonised_level(native, on_label)
    citations = []
    if evidence["citation_id"]:
        prefix = "PMID" if evidence["source_type"] == "PubMed" else evidence["source_type"]
        citations.append(f"{prefix}:{evidence['citation_id']}")
    citations += [f"NCT:{n}" for n in evidence["nct_ids"].split(",") if n]
    out = []
    for therapy in therapy_rows(evidence):
        out.append({
            "gene": alts[0].gene if len({a.gene for a in alts}) == 1 else ";".join(sorted({a.gene for a in alts})),
            "alteration": " + ".join(a.label for a in alts),
            "match_level": match_level,
            "therapy": therapy,
            "direction": direction(evidence),
            "level": level,
            "native_level": native,
            "amp_tier": amp_tier(level, native, on_label),
            "on_label": on_label,
            "tumor_type_relation": relation.value,
            "disease": evidence["disease"],
            "doid": evidence["doid"],
            "evidence_type": evidence["evidence_type"],
            "significance": evidence["significance"],
            "source": evidence.get("_source", "CIViC"),
            "source_id": _source_id(evidence),
            "citations": ";".join(citations),
            "source_url": _source_url(evidence),
            "rating": evidence["rating"],
            "variant_origin": evidence["variant_origin"],
            "profile": profile["name"],
            "profile_id": f"MP{profile['profile_id']}",
            "therapy_interaction": evidence["therapy_interaction_type"],
            "variant_keys": ";".join(a.keys for a in alts),
            "hgvsp": ";".join(a.hgvsp for a in alts if a.hgvsp),
            "hgvsc": ";".join(a.hgvsc for a in alts if a.hgvsc),
            "consequence": ";".join(a.consequence for a in alts if a.consequence),
            "vaf": ";".join(a.vaf for a in alts if a.vaf),
            "origin": origin,
            "kb_version": kb.version,
        })
    return out


def _source_id(evidence: dict[str, str]) -> str:
    if evidence.get("_source", "CIViC") == "CIViC":
        return f"EID{evidence['evidence_id']}"
    return evidence["evidence_id"]


def _source_url(evidence: dict[str, str]) -> str:
    if evidence.get("_source", "CIViC") == "CIViC":
        return f"https://civicdb.org/links/evidence_items/{evidence['evidence_id']}"
    return evidence.get("url", "")


def rank(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Level, then on-label first, then exact variant before gene level, then rating."""
    def key(r: dict[str, object]) -> tuple[int, int, int, int, int, str]:
        rating = str(r["rating"])
        eid = str(r["source_id"]).removeprefix("EID")
        return (
            LEVELS.index(str(r["level"])),
            0 if r["on_label"] else 1,
            MATCH_LEVELS.index(str(r["match_level"])),
            -(int(rating) if rating.isdigit() else 0),
            int(eid) if eid.isdigit() else 0,
            str(r["therapy"]),
        )
    return sorted(rows, key=key)


def germline_therapy_genes(kb: KnowledgeBase) -> set[str]:
    """Genes with germline-origin evidence about therapy (e.g. BRCA1/2 for PARP inhibitors)."""
    genes: set[str] = set()
    for profile in kb.profiles:
        evidence = kb.evidence_by_profile.get(int(profile["profile_id"]), [])
        if any(e["variant_origin"] in GERMLINE_ORIGINS and e["evidence_type"] == "Predictive" for e in evidence):
            for vid in profile["variant_ids"].split(","):
                if vid:
                    genes.add(kb.variants[int(vid)]["gene"])
    return genes
