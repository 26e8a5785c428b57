"""Annotated variants × knowledge base → therapy matches, tumor-type aware and ranked.

Every match records how it was reached (`match_level`), the source's own level beside the
harmonised one, whether the evidence is for this tumor type, and where the evidence comes from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pgx.annotate import LOSS_OF_FUNCTION, PROTEIN_ALTERING
from pgx.errors import PgxInputError
from pgx.kb import Manifest, load_table
from pgx.kb.civic import ITD_EXONS
from pgx.ontology import Ontology, TumorType, is_on_label
from pgx.outputs import iter_tsv, read_json, read_tsv

MATCH_LEVELS = ("exact_genomic", "hgvsc", "protein", "codon", "exon", "gene", "copy_number", "fusion")
LEVELS = ("A", "B", "C", "D")

MATCH_COLUMNS = [
    "gene", "alteration", "match_level", "therapy", "assessment", "counter_evidence", "direction",
    "level", "native_level",
    "amp_tier", "on_label", "tumor_type_relation", "disease", "doid", "evidence_type",
    "significance", "source", "source_id", "citations", "source_url", "rating", "variant_origin",
    "profile", "profile_id", "therapy_interaction", "variant_keys", "hgvsp", "hgvsc",
    "consequence", "vaf", "origin", "match_note", "kb_version",
]
PROTEIN_UNKNOWN_NOTE = "protein change unknown: give a reference genome (pgx reference fetch)"

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
    intron: int | None = None
    is_hotspot_codon: bool = False
    in_inactivated_gene: bool = False  # the KB curates loss of this gene as a cancer event
    genomic_key: str = ""
    rsid: str = ""
    copy_number: str = ""
    fusion: tuple[str, str] | None = None
    structural: str = ""  # a named rearrangement class seen in a CNA or fusion row ('egfrviii')


@dataclass(slots=True)
class KnowledgeBase:
    variants: dict[int, dict[str, str]]
    by_gene: dict[str, list[int]]
    profiles: list[dict[str, str]]
    evidence_by_profile: dict[int, list[dict[str, str]]]
    hotspot_codons: dict[tuple[str, int], str]  # (gene, codon) → reference residue
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
        codons = {(r["gene"], int(r["codon"])): r["ref_aa"] for r in load_table(resources, "kb/hotspots.tsv")}
        inactivated = frozenset(
            r["gene"] for r in variants.values()
            if r["consequence_class"] in ("loss_of_function", "frameshift", "deletion") or r["kind"] == "frameshift")
        return cls(variants, by_gene, profiles, evidence, codons, label, inactivated)


def _shift_ids(expression: str, offset: int) -> str:
    return re.sub(r"v(\d+)", lambda m: f"v{int(m[1]) + offset}", expression)


_ID_OFFSET = 10_000_000  # keeps each user knowledge base's ids apart from CIViC's


def _user_source(folder: Path) -> dict[str, str]:
    path = folder / "source.json"
    if not path.exists():
        raise PgxInputError(str(path), "a user knowledge base needs source.json (name, version, license)")
    source = read_json(path, "source.json")
    if not isinstance(source, dict):
        raise PgxInputError(str(path), "must be a JSON object (name, version, license)")
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
        rows = read_tsv(path, [c for c in columns if c not in _OPTIONAL_USER_COLUMNS],
                        {"evidence_level": ("A", "B", "C", "D", "E")} if name == "evidence" else None)
        for number, r in enumerate(rows, start=1):
            problem = _user_row_problem(name, r)
            if problem:
                raise PgxInputError(str(path), problem, record=f"row {number}")
        out.append([{c: r.get(c, "") or "" for c in [*columns, "url"]} for r in rows])
    return out[0], out[1], out[2]


_USER_WHOLE_NUMBERS = {
    "variants": ("variant_id", "codon", "codon_end", "exon", "grch37_start", "grch37_stop",
                 "grch38_start", "grch38_stop"),
    "profiles": ("profile_id",),
    "evidence": ("profile_id",),
}


def _user_row_problem(table: str, row: dict[str, str]) -> str | None:
    """What in a user knowledge base's row the loader or matcher could not read, or None."""
    for column in _USER_WHOLE_NUMBERS[table]:
        value = row.get(column) or ""
        if (value or column in ("variant_id", "profile_id")) and not value.isdigit():
            return f"{column} {value[:40]!r} is not a whole number"
    if table == "profiles":
        if not all(v.isdigit() for v in row["variant_ids"].split(",") if v):
            return f"variant_ids {row['variant_ids'][:40]!r} is not a comma-separated list of ids"
        try:
            evaluate(row["expression"], set())
        except (IndexError, ValueError):
            return f"expression {row['expression'][:60]!r} cannot be read"
    return None


_OPTIONAL_USER_COLUMNS = frozenset({
    "grch37_chrom", "grch37_start", "grch37_stop", "grch37_ref", "grch37_alt", "grch38_chrom",
    "grch38_start", "grch38_stop", "transcript", "assertion_ids", "amp_category",
    "regulatory_approval", "nccn_guideline", "nct_ids", "rsid", "partner_5", "partner_3", "exon",
    "ref_aa", "alt_aa", "codon", "codon_end", "rating", "asco_abstract_id", "citation",
    "exon_range", "codon_ranges",
})


def anchorless_key(chrom: str, pos: int, ref: str, alt: str) -> str:
    """Genomic key without VCF's anchor base, the way CIViC writes coordinates."""
    chrom = chrom.removeprefix("chr")
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        return f"{chrom}:{pos + 1}:{ref[1:]}:{alt[1:]}"
    return f"{chrom}:{pos}:{ref}:{alt}"


VARIANT_TABLE_NEEDS = ("chrom", "pos", "ref", "alt", "variant_key", "gene", "consequence")
_WHOLE_NUMBER_COLUMNS = ("pos", "codon", "codon_end", "exon", "intron")


def read_variants(path: str) -> Iterator[dict[str, str]]:
    """variants.tsv row by row, refused with one line where a column the matcher reads is
    missing or a number is not one."""
    for number, row in enumerate(iter_tsv(path, VARIANT_TABLE_NEEDS), start=1):
        for column in _WHOLE_NUMBER_COLUMNS:
            value = row.get(column)
            if value and not value.isdigit():
                raise PgxInputError(path, f"{column} {value!r} is not a whole number", record=f"row {number}")
        yield row


def in_evidence_genes(rows: Iterable[dict[str, str]], kb: KnowledgeBase) -> Iterator[dict[str, str]]:
    """The variants that can meet evidence: `match` reaches a KB variant only through the
    alteration's gene, so the rest of a genome's variants need not be held in memory."""
    return (r for r in rows if r.get("gene") in kb.by_gene)


def proposed_drugs(matches: Iterable[dict[str, str]]) -> set[str]:
    """The drugs the tumor's evidence speaks for in its own tumor type, which pharmacogenomic
    guidance lists first: from on-label sensitivity rows, not any drug named in a resistance
    or off-label row."""
    return {d for m in matches if m["direction"] == "sensitivity" and m["on_label"] == "true"
            for d in therapy_drugs(m["therapy"])}


def read_matches(path: str | None) -> list[dict[str, str]]:
    """A match table as `match` writes it; its closed vocabularies checked, since the ranking
    and the report rely on them. None or a missing file: no matches."""
    if not path or not Path(path).exists():
        return []
    return read_tsv(path, MATCH_COLUMNS, {"level": LEVELS, "match_level": MATCH_LEVELS,
                                          "on_label": ("true", "false")})


def alterations_from_variants(rows: Iterable[dict[str, str]], build: str,
                              hotspots: dict[tuple[str, int], str],
                              inactivated_genes: frozenset[str] = frozenset()) -> list[Alteration]:
    out = []
    for r in rows:
        codon = int(r["codon"]) if r.get("codon") else None
        gene = r.get("gene") or ""
        # A protein change when its residues are known; else the coding change (c.5946del),
        # which says more than "codon 1982 frameshift".
        if r.get("ref_aa"):
            label = r["protein_change"]
        elif codon is not None and r.get("protein_kind") == "unknown" and (gene, codon) in hotspots:
            # A hotspot codon known by number: its residue is known, the change is not.
            label = f"{hotspots[(gene, codon)]}{codon}? ({r.get('hgvsc')})"
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
            intron=int(r["intron"]) if r.get("intron") else None,
            is_hotspot_codon=(gene, codon) in hotspots if codon else False,
            in_inactivated_gene=gene in inactivated_genes,
            genomic_key=f"{build}:" + anchorless_key(r["chrom"], int(r["pos"]), r["ref"], r["alt"]),
            rsid=(r.get("id") or "").lower(),
        ))
    return out


def alterations_from_cna(path: str) -> list[Alteration]:
    """Per-patient copy-number TSV: columns gene and call (amplification / deletion); an
    optional column exons names the exons a deletion covers ('2-7': EGFR 2-7, EGFRvIII)."""
    out = []
    for r in _read_optional(path, ("gene", "call")):
        call = r["call"].strip().lower()
        exons = (r.get("exons") or "").strip()
        if call in ("amp", "amplification", "gain"):
            call = "amplification"
        elif call in ("del", "deletion", "loss", "homozygous_deletion"):
            call = "deletion"
        elif r["gene"] == "EGFR" and call in ("egfrviii", "viii"):
            call, exons = "deletion", "2-7"
        else:
            raise PgxInputError(path, f"unknown copy-number call {r['call']!r}", record=r["gene"])
        structural = "egfrviii" if (r["gene"], call, exons) == ("EGFR", "deletion", "2-7") else ""
        label = "EGFRvIII (exons 2-7 deleted)" if structural else call
        # An intragenic deletion is not a loss of the gene: only whole-gene calls reach
        # copy-number evidence.
        out.append(Alteration(gene=r["gene"], label=label, keys=f"CNA:{r['gene']}:{call}" + (f":exons{exons}" if exons else ""),
                              copy_number="" if exons else call, structural=structural))
    return out


def alterations_from_fusions(path: str) -> list[Alteration]:
    """Per-patient fusion/SV TSV: columns gene_5 and gene_3; optional exon_5 (last exon of the
    5' partner kept) and exon_3 (first exon of the 3' partner kept). EGFR::EGFR joining exon 1
    to exon 8 is EGFRvIII."""
    out = []
    for r in _read_optional(path, ("gene_5", "gene_3")):
        label = f"{r['gene_5']}::{r['gene_3']}"
        exons = ((r.get("exon_5") or "").strip(), (r.get("exon_3") or "").strip())
        if (r["gene_5"], r["gene_3"], *exons) == ("EGFR", "EGFR", "1", "8"):
            out.append(Alteration(gene="EGFR", label="EGFRvIII (exons 2-7 deleted)",
                                  keys="SV:EGFR:exon1::exon8", structural="egfrviii"))
            continue
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
    if alt.structural:
        # A named rearrangement class from a CNA or SV row (EGFRvIII: exons 2-7 deleted).
        return "exon" if kind == alt.structural and alt.gene == spec["gene"] else None
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
    if kind == "cdna":
        return "hgvsc" if alt.hgvsc and alt.hgvsc == spec["consequence_class"] else None
    consequences = set(alt.consequence.split("&"))
    # A coding SNV whose codon is known by number but whose amino acids are not (no FASTA).
    unknown_protein = alt.protein_kind == "unknown"
    codon = int(spec["codon"]) if spec["codon"] else None
    if kind == "protein" and alt.codon == codon and alt.protein_kind in ("missense", "nonsense"):
        if alt.ref_aa == spec["ref_aa"] and alt.alt_aa in spec["alt_aa"].split("/"):
            return "protein"
        return None
    if kind == "codon" and codon is not None and (alt.protein_kind in ("missense", "nonsense") or unknown_protein):
        end = int(spec["codon_end"]) if spec["codon_end"] else codon
        wanted = {codon, end} if spec["consequence_class"] == "codon_list" else set(range(codon, end + 1))
        return "codon" if alt.codon in wanted else None
    if kind == "domain":
        changes_protein = consequences & {"missense_variant", "inframe_deletion", "inframe_insertion",
                                          "protein_altering_variant"}
        if alt.codon is None or not (changes_protein or unknown_protein):
            return None
        touched = range(alt.codon, (alt.codon_end or alt.codon) + 1)
        return "codon" if any(_in_ranges(c, spec["codon_ranges"]) for c in touched) else None
    if kind == "itd":
        if "inframe_insertion" not in consequences:
            return None
        if spec["exon_range"]:
            if alt.exon is None or not _in_ranges(alt.exon, spec["exon_range"]):
                return None
        return "exon"
    if kind == "exon_skipping":
        # Exon N is skipped when its donor (intron N) or its acceptor (intron N-1) is hit,
        # including deletions across either boundary.
        n = int(spec["exon"])
        if "splice_donor_variant" in consequences and alt.intron == n:
            return "exon"
        if "splice_acceptor_variant" in consequences and alt.intron == n - 1:
            return "exon"
        return None
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
        # hotspot codon (its amino acids known, or not: the row then says so), or a
        # loss-of-function change in a gene whose loss the knowledge base curates as a cancer
        # event (a frameshift in an oncogene is not its activation).
        if cls == "any_mutation":
            if alt.is_hotspot_codon and (consequences & PROTEIN_ALTERING or unknown_protein):
                return "gene"
            if _is_itd(alt, consequences):  # an activating class: FLT3-ITD reaches FLT3 "Mutation"
                return "gene"
            if consequences & LOSS_OF_FUNCTION and alt.in_inactivated_gene:
                return "gene"
        return None
    return None


def _is_itd(alt: Alteration, consequences: set[str]) -> bool:
    exons = ITD_EXONS.get(alt.gene)
    if exons is None or alt.exon is None or "inframe_insertion" not in consequences:
        return False
    return exons[0] <= alt.exon <= exons[1]


def _in_ranges(value: int, ranges: str) -> bool:
    """'242-243,256-493' holds 300."""
    for part in ranges.split(","):
        low, _, high = part.partition("-")
        if low and int(low) <= value <= int(high or low):
            return True
    return False


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
        parts = [(level, alt, kb.variants[vid]) for vid in ids if vid in hits
                 for level, alt in hits[vid].values()]
        worst = max(parts, key=lambda h: MATCH_LEVELS.index(h[0]))
        seen: dict[str, MatchedPart] = {}
        for _, alt, spec in sorted(parts, key=lambda h: h[1].keys):
            seen.setdefault(alt.keys, MatchedPart(alt, *_describe(alt, spec)))
        for evidence in kb.evidence_by_profile.get(int(profile["profile_id"]), []):
            if evidence["variant_origin"] not in origins:
                continue
            if origin == "germline" and evidence["evidence_type"] != "Predictive":
                continue  # germline findings relevant to therapy; cancer risk is not reported here
            rows.extend(_rows_for(evidence, profile, worst[0], list(seen.values()), kb, ontology, tumor, origin))
    return rank(assess(rows))


@dataclass(frozen=True, slots=True)
class MatchedPart:
    """A patient's alteration as it met one KB variant: the gene the evidence is about (a
    fusion's kinase partner, not always its 3' gene) and the label an oncologist searches for."""

    alt: Alteration
    gene: str
    label: str
    note: str


_CLASS_KINDS = frozenset({"exon", "itd", "exon_skipping", "egfrviii", "domain"})
_SPECIFIC_KINDS = frozenset({"protein", "protein_indel", "frameshift", "cdna", "rsid"})


def _describe(alt: Alteration, spec: dict[str, str]) -> tuple[str, str, str]:
    """(gene, label, note) of a matched alteration. The label is the short protein change
    (T790M) when known, with the KB's class beside it ('E746_A750del (exon 19 deletion)');
    the KB variant's own name when the protein change is unknown; else the HGVSc."""
    gene = spec["gene"] if alt.fusion else alt.gene
    note = PROTEIN_UNKNOWN_NOTE if alt.protein_kind == "unknown" else ""
    if alt.fusion or alt.copy_number or alt.structural:
        return gene, alt.label, note
    known = alt.protein_change if alt.ref_aa else ""
    named_class = spec["name"] if spec["kind"] in _CLASS_KINDS else ""
    if spec["kind"] == "exon":
        named_class = named_class.lower()
    if known and named_class:
        return gene, f"{known} ({named_class})", note
    if known:
        return gene, known, note
    if spec["kind"] in _SPECIFIC_KINDS or named_class:
        return gene, named_class or spec["name"], note
    return gene, alt.label, note


def _fusion_partners(alt: Alteration, kb: KnowledgeBase) -> list[int]:
    if not alt.fusion:
        return []
    return [v for v in kb.by_gene.get(alt.fusion[0], []) if v not in kb.by_gene.get(alt.gene, [])]


def _rows_for(evidence: dict[str, str], profile: dict[str, str], match_level: str,
              parts: list[MatchedPart], kb: KnowledgeBase, ontology: Ontology, tumor: TumorType,
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
            "gene": ";".join(sorted({p.gene for p in parts})),
            "alteration": " + ".join(p.label for p in parts),
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
            "variant_keys": ";".join(p.alt.keys for p in parts),
            "hgvsp": ";".join(p.alt.hgvsp for p in parts if p.alt.hgvsp),
            "hgvsc": ";".join(p.alt.hgvsc for p in parts if p.alt.hgvsc),
            "consequence": ";".join(p.alt.consequence for p in parts if p.alt.consequence),
            "vaf": ";".join(p.alt.vaf for p in parts if p.alt.vaf),
            "origin": origin,
            "match_note": "; ".join(sorted({p.note for p in parts if p.note})),
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


class Assessment(str, Enum):
    """One verdict per therapy for this patient, from all its evidence rows."""

    SENSITIVE = "sensitive"  # sensitivity, no on-label level A/B evidence against
    CONFLICTING = "conflicting"  # sensitivity, and on-label A/B resistance or no benefit
    RESISTANT = "resistant"  # resistance, no sensitivity
    NO_BENEFIT = "no_benefit"  # only evidence that does not support a response
    NOT_PREDICTIVE = ""  # prognostic, diagnostic, adverse-response rows


_AGAINST = frozenset({"resistance", "reduced_sensitivity", "no_benefit"})


def assess(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Weigh, per therapy (its set of drugs, order-insensitive: 'Dabrafenib + Trametinib' =
    'Trametinib + Dabrafenib'), the patient's sensitivity evidence against resistance from any
    of the patient's alterations (somatic and germline alike): a therapy with decisive evidence
    against it is `conflicting`, never a plain recommendation. Sets `assessment` and
    `counter_evidence` (the alterations behind the evidence against, decisive first) on every
    row of the therapy."""
    groups: dict[frozenset[str], list[dict[str, object]]] = {}
    for r in rows:
        if r["evidence_type"] == "Predictive" and r["therapy"]:
            groups.setdefault(frozenset(therapy_drugs(str(r["therapy"]))), []).append(r)
    against_rows = [(d, r) for d, group in groups.items() for r in group if r["direction"] in _AGAINST]
    for r in rows:
        r["assessment"], r["counter_evidence"] = Assessment.NOT_PREDICTIVE.value, ""
    for drugs, group in groups.items():
        sensitive = [r for r in group if r["direction"] == "sensitivity"]
        # Evidence against any of the therapy's drugs counts against the therapy (T790M's
        # resistance to erlotinib weighs on erlotinib + ramucirumab too).
        against = sorted((r for d, r in against_rows if d <= drugs),
                         key=lambda r: (LEVELS.index(str(r["level"])), not r["on_label"]))
        sensitive_keys = [_keys(r) for r in sensitive]
        # Decisive: on-label at level A/B; or on-label evidence about more of the patient's
        # alterations than a sensitivity row accounts for (BCR::ABL1 + T315I against
        # BCR::ABL1 alone), whatever its level: it speaks to this patient more precisely.
        strong = [r for r in against if r["on_label"] and (
            r["level"] in ("A", "B") or any(_keys(r) > keys for keys in sensitive_keys))]
        if sensitive:
            verdict = Assessment.CONFLICTING if strong else Assessment.SENSITIVE
        elif any(r["direction"] != "no_benefit" for r in against):
            verdict = Assessment.RESISTANT
        elif against:
            verdict = Assessment.NO_BENEFIT
        else:
            verdict = Assessment.NOT_PREDICTIVE
        counter: dict[str, None] = {}
        for r in sorted(against, key=lambda r: r not in strong):
            direction = str(r["direction"]).replace("_", " ")
            where = "on-label" if r["on_label"] else "off-label"
            counter.setdefault(f"{r['gene']} {r['alteration']}: {direction} to {r['therapy']}, "
                               f"level {r['level']} ({where}, {r['source_id']})", None)
        for r in group:
            r["assessment"], r["counter_evidence"] = verdict.value, "; ".join(counter)
    return rows


def therapy_drugs(therapy: str) -> list[str]:
    """The drugs of a therapy, in its order, lower case ('Dabrafenib + Trametinib',
    'A then B'): the one reading of a therapy name for assessment, PGx flags and proposals."""
    return [d.strip().lower() for d in therapy.replace(" then ", " + ").split(" + ") if d.strip()]


def _keys(row: dict[str, object]) -> frozenset[str]:
    return frozenset(str(row["variant_keys"]).split(";"))


def rank(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Therapies that work first: level A/B sensitivity of therapies assessed `sensitive`; then
    level A/B evidence against (resistance, no benefit) and the sensitivity of conflicting
    therapies; then the rest. Within each: level, on-label first, exact variant before gene
    level, rating."""
    def key(r: dict[str, object]) -> tuple[int, int, int, int, int, int, int, str]:
        rating = str(r["rating"])
        eid = str(r["source_id"]).removeprefix("EID")
        strong = r["level"] in ("A", "B")
        if strong and r["assessment"] == Assessment.SENSITIVE.value and r["direction"] == "sensitivity":
            bucket = 0
        elif strong and r["evidence_type"] == "Predictive":
            bucket = 1
        else:
            bucket = 2
        return (
            bucket,
            LEVELS.index(str(r["level"])),
            0 if r["on_label"] else 1,
            0 if r["direction"] in _AGAINST else 1,
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
