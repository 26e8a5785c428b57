"""CIViC monthly release → our own tables: variants (alteration specs), molecular profiles
(with their AND/OR/NOT logic over variant ids) and evidence items. Facts only, no prose.

The only module that knows CIViC's file layout. Both layouts are read: up to 2024 (a gene per
variant, fusions named in the variant) and from 2025 (features: gene, fusion with 5'/3' partner
columns and 'v' for any partner, factor; GeneSummaries became FeatureSummaries, not read here).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from pgx.errors import PgxInputError

VARIANT_COLUMNS = [
    "variant_id", "gene", "name", "kind", "ref_aa", "codon", "codon_end", "alt_aa",
    "exon", "consequence_class", "partner_5", "partner_3", "rsid",
    "grch37_chrom", "grch37_start", "grch37_stop", "grch37_ref", "grch37_alt",
    "grch38_chrom", "grch38_start", "grch38_stop", "transcript", "exon_range", "codon_ranges",
]
PROFILE_COLUMNS = ["profile_id", "name", "logic", "expression", "variant_ids"]
EVIDENCE_COLUMNS = [
    "evidence_id", "profile_id", "evidence_type", "evidence_direction", "significance",
    "evidence_level", "rating", "disease", "doid", "therapies", "therapy_interaction_type",
    "variant_origin", "citation_id", "source_type", "citation", "nct_ids", "assertion_ids",
    "amp_category", "regulatory_approval", "nccn_guideline",
]

_GENE_LEVEL = {
    "mutation": ("gene", "any_mutation"),
    "loss-of-function": ("gene", "loss_of_function"),
    "truncating mutation": ("gene", "loss_of_function"),
    "inactivating mutation": ("gene", "loss_of_function"),
    "deleterious mutation": ("gene", "loss_of_function"),
    "biallelic inactivation": ("gene", "loss_of_function"),
    "frameshift truncation": ("gene", "frameshift"),
    "frameshift": ("gene", "frameshift"),
    "activating mutation": ("gene", "any_mutation"),
    "alteration": ("gene", "any_mutation"),
    "amplification": ("copy_number", "amplification"),
    "deletion": ("copy_number", "deletion"),
    "loss": ("copy_number", "deletion"),
    "copy number loss": ("copy_number", "deletion"),
    "fusion": ("fusion", "any_partner"),
    "fusions": ("fusion", "any_partner"),
    "rearrangement": ("fusion", "any_partner"),
}
_EXON = re.compile(r"^exon (\d+) (deletion|insertion|mutation|missense mutation|frameshift)$", re.I)
_PROTEIN = re.compile(r"^([A-Z])(\d+)([A-Z*](?:/[A-Z*])*)$")
_CODON = re.compile(r"^([A-Z])(\d+)$")
_CODON_GROUP = re.compile(r"^([A-Z])(\d+)/([A-Z])(\d+)$")
_FRAMESHIFT = re.compile(r"^([A-Z])(\d+)fs(?:\*?\d+|X)?$", re.I)
_PROTEIN_INDEL = re.compile(r"^([A-Z])(\d+)(?:_([A-Z])(\d+))?(del|ins|dup|delins)([A-Z]*)$", re.I)
_RSID = re.compile(r"^rs\d+$", re.I)
_CDNA = re.compile(r"^c\.[0-9+*_-]+[ACGT]*(?:>[ACGT]+|del[ACGT]*|dup[ACGT]*|ins[ACGT]+)$")
_WITH_CDNA = re.compile(r"^(.+?) \((c\.[^)]+)\)$")
_STAR_ALLELE = re.compile(r"\*\d|homozygosity", re.I)
_ITD = frozenset({"itd", "internal duplication", "internal tandem duplication"})
_EXON_SKIPPING = re.compile(r"^exon (\d+) skipping(?: mutation)?$", re.I)

# In-frame duplications that make an internal tandem duplication, by exon of the MANE
# transcript: FLT3-ITD lies in the juxtamembrane exons 14-15 (NM_004119), BCOR-ITD in the last
# exon, 15 (NM_001123385). Other genes: any exon.
ITD_EXONS = {"FLT3": (14, 15), "BCOR": (15, 15)}

# Named codon ranges (protein numbering of the MANE transcript, as CIViC names the variants):
# FLT3 TKD mutations are the D835/I836 activation-loop changes; ABL1 numbering is isoform 1a
# (T315I), its kinase domain UniProt P00519 242-493 and the P-loop (glycine-rich loop) 244-255;
# TP53's DNA-binding domain is UniProt P04637 102-292.
DOMAINS = {
    ("FLT3", "tkd mutation"): "835-836",
    ("ABL1", "tkd mutation"): "242-493",
    ("ABL1", "kinase domain mutation"): "242-493",
    ("ABL1", "p-loop mutation"): "244-255",
    ("ABL1", "non-p-loop mutation"): "242-243,256-493",
    ("TP53", "dna binding domain mutation"): "102-292",
}


@dataclass(frozen=True, slots=True)
class AlterationSpec:
    kind: str
    ref_aa: str = ""
    codon: int | None = None
    codon_end: int | None = None
    alt_aa: str = ""
    exon: int | None = None
    consequence_class: str = ""
    partner_5: str = ""
    partner_3: str = ""
    rsid: str = ""
    exon_range: str = ""  # first-last exon ('14-15')
    codon_ranges: str = ""  # comma-separated first-last codons ('242-243,256-493')


def parse_alteration(gene: str, name: str) -> AlterationSpec:
    """CIViC variant name → what a patient's variant must show to match it."""
    text = name.strip()
    lower = text.lower()
    if lower in _ITD:
        low, high = ITD_EXONS.get(gene, (0, 0))
        return AlterationSpec("itd", consequence_class="internal_tandem_duplication",
                              exon_range=f"{low}-{high}" if low else "")
    if (gene, lower) in DOMAINS:
        return AlterationSpec("domain", consequence_class=lower, codon_ranges=DOMAINS[(gene, lower)])
    if m := _EXON_SKIPPING.match(text):
        return AlterationSpec("exon_skipping", exon=int(m[1]), consequence_class="exon_skipping")
    if gene == "EGFR" and lower in ("viii", "egfrviii", "viii deletion"):
        return AlterationSpec("egfrviii", consequence_class="exons_2_7_deleted")
    if _CDNA.match(text):
        return AlterationSpec("cdna", consequence_class=text)
    if m := _WITH_CDNA.match(text):
        # 'R167W (c.499C>T)': the protein change when it parses, else the coding change.
        spec = parse_alteration(gene, m[1])
        return spec if spec.kind != "other" else AlterationSpec("cdna", consequence_class=m[2])
    if "::" in text:
        five, three = (p.strip() for p in text.split("::", 1))
        return AlterationSpec("fusion", partner_5=five, partner_3=three.split(" ")[0],
                              consequence_class="named_partners")
    if lower in _GENE_LEVEL:
        kind, cls = _GENE_LEVEL[lower]
        return AlterationSpec(kind, consequence_class=cls)
    if m := _EXON.match(text):
        return AlterationSpec("exon", exon=int(m[1]), consequence_class=m[2].lower().replace(" ", "_"))
    if m := _PROTEIN.match(text):
        return AlterationSpec("protein", ref_aa=m[1], codon=int(m[2]), codon_end=int(m[2]),
                              alt_aa=m[3])
    if m := _CODON.match(text):
        return AlterationSpec("codon", ref_aa=m[1], codon=int(m[2]), codon_end=int(m[2]))
    if m := _CODON_GROUP.match(text):
        return AlterationSpec("codon", ref_aa=f"{m[1]}/{m[3]}", codon=int(m[2]),
                              codon_end=int(m[4]), consequence_class="codon_list")
    if m := _FRAMESHIFT.match(text):
        return AlterationSpec("frameshift", ref_aa=m[1].upper(), codon=int(m[2]),
                              codon_end=int(m[2]))
    if m := _PROTEIN_INDEL.match(text):
        end = int(m[4]) if m[4] else int(m[2])
        return AlterationSpec("protein_indel", ref_aa=m[1].upper(), codon=int(m[2]),
                              codon_end=end, alt_aa=m[6].upper(),
                              consequence_class=m[5].lower())
    if _RSID.match(text):
        return AlterationSpec("rsid", rsid=text.lower())
    return AlterationSpec("other", consequence_class=lower)


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise PgxInputError(str(path), "CIViC release file is missing")
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def release_files(release_dir: Path) -> dict[str, Path]:
    """The release's files by kind; CIViC names them '<DD-Mon-YYYY>-<Kind>Summaries.tsv'."""
    found: dict[str, Path] = {}
    for kind in ("ClinicalEvidence", "Variant", "MolecularProfile", "Assertion"):
        matches = sorted(release_dir.glob(f"*-{kind}Summaries.tsv"))
        if not matches:
            raise PgxInputError(str(release_dir), f"no *-{kind}Summaries.tsv in the CIViC release")
        found[kind] = matches[-1]
    return found


# Of the variants the profile file lists, the share the variant file may lack in a whole
# release: 2 of 1,719 in 2024-08-01 (two non-genomic factors, 'Kataegis' and 'CK High'), 0 of
# 1,807 in 2025-07-01.
_ABSENT_VARIANTS_TOLERATED = 0.005


def release_problems(release_dir: Path) -> list[str]:
    """Why the release's files are not one whole release, read from their cross-references:
    every file ends with a line break, every molecular profile an evidence item or assertion
    names is in the profile file, and the variants the profiles list are in the variant file.
    A file cut at a row boundary without a Content-Length to tell looks whole by itself; its
    partners then name rows it lost. (A cut in the last tenth of the evidence file leaves no
    such trace: `pgx kb update` also requires most of the current evidence items.)"""
    files = release_files(release_dir)
    problems = [f"{path.name} does not end with a line break" for path in files.values()
                if not path.read_bytes().endswith(b"\n")]
    profiles = _read(files["MolecularProfile"])
    profile_ids = {r["molecular_profile_id"] for r in profiles}
    for kind in ("ClinicalEvidence", "Assertion"):
        named = {r["molecular_profile_id"] for r in _read(files[kind])}
        absent = sorted(named - profile_ids, key=lambda x: (len(x), x))
        # One of 66 assertions in 2024-08-01 names a profile missing from its own release.
        if len(absent) > (1 if kind == "Assertion" else 0):
            problems.append(f"{len(absent)} molecular profiles named in {files[kind].name} are not in "
                            f"{files['MolecularProfile'].name} (e.g. {absent[0]})")
    listed = {v.strip() for r in profiles for v in (r["variant_ids"] or "").split(",") if v.strip()}
    absent_variants = listed - {r["variant_id"] for r in _read(files["Variant"])}
    if len(absent_variants) > _ABSENT_VARIANTS_TOLERATED * max(1, len(listed)):
        problems.append(f"{len(absent_variants)} of the {len(listed)} variants the profiles list are not in "
                        f"{files['Variant'].name}")
    return problems


def _is_2025_format(rows: list[dict[str, str]]) -> bool:
    """From 2025 CIViC releases name each variant's feature (gene, fusion or factor)."""
    return bool(rows) and "feature_type" in rows[0]


def _unknown_partner(name: str, status: str) -> bool:
    return not name or name == "v" or status in ("multiple", "unknown")


def _fusion_spec(r: dict[str, str], genes_with_variants: set[str]) -> tuple[str, AlterationSpec]:
    """A 2025 fusion row: partners from their own columns ('v' is any partner). The row's gene
    is the partner the evidence is about: the known one, or, with both known, the one that
    also has variants of its own in CIViC (FGFR2 of FGFR2::BICC1, ABL1 of BCR::ABL1)."""
    five, three = r["5_prime_partner"], r["3_prime_partner"]
    five_known = not _unknown_partner(five, r["5_prime_partner_status"])
    three_known = not _unknown_partner(three, r["3_prime_partner_status"])
    if five_known and three_known:
        gene = five if five in genes_with_variants and three not in genes_with_variants else three
        return gene, AlterationSpec("fusion", partner_5=five, partner_3=three,
                                    consequence_class="named_partners")
    gene = three if three_known else five
    return gene, AlterationSpec("fusion", partner_5=five if five_known else "",
                                partner_3=three if three_known else "",
                                consequence_class="any_partner")


def build_variants(rows: list[dict[str, str]]) -> tuple[list[dict[str, object]], dict[int, str]]:
    """Our variant rows, and each variant's text as molecular profile names spell it
    ('BRAF V600E'; from 2025 'BCR::ABL1 Fusion', whose feature is the fusion)."""
    new_format = _is_2025_format(rows)
    genes_with_variants = {r["gene"] for r in rows if r["gene"]}
    out: list[dict[str, object]] = []
    operands: dict[int, str] = {}
    for r in rows:
        if new_format and r["feature_type"] == "Fusion":
            gene, spec = _fusion_spec(r, genes_with_variants)
        else:
            gene = r["gene"] or (r["feature_name"] if new_format else "")
            spec = parse_alteration(gene, r["variant"])
        operands[int(r["variant_id"])] = f"{r['feature_name'] if new_format else r['gene']} {r['variant']}"
        exact = bool(r["reference_bases"] or r["variant_bases"]) and r["reference_build"] == "GRCh37"
        out.append({
            "variant_id": int(r["variant_id"]),
            "gene": gene,
            "name": r["variant"],
            "kind": spec.kind,
            "ref_aa": spec.ref_aa,
            "codon": spec.codon,
            "codon_end": spec.codon_end,
            "alt_aa": spec.alt_aa,
            "exon": spec.exon,
            "consequence_class": spec.consequence_class,
            "partner_5": spec.partner_5,
            "partner_3": spec.partner_3,
            "rsid": spec.rsid,
            "grch37_chrom": r["chromosome"] if exact else "",
            "grch37_start": r["start"] if exact else "",
            "grch37_stop": r["stop"] if exact else "",
            "grch37_ref": r["reference_bases"] if exact else "",
            "grch37_alt": r["variant_bases"] if exact else "",
            "transcript": r["representative_transcript"],
            "exon_range": spec.exon_range,
            "codon_ranges": spec.codon_ranges,
        })
    return sorted(out, key=lambda v: int(str(v["variant_id"]))), operands


# Grouping parentheses stand apart ('( BRAF V600E OR ... )'); those inside a variant's name
# ('MET Splice Site (c.3028G>A)') do not.
_TOKEN = re.compile(r"(?:^|(?<=\s))\((?=\s)|(?<=\s)\)(?=\s|$)|\bAND\b|\bOR\b|\bNOT\b")


def profile_expression(name: str, variant_ids: list[int], names: dict[int, str]) -> str:
    """'BRAF Amplification AND ( BRAF V600E OR BRAF V600K )' → 'v17 AND ( v12 OR v20 )'.

    Operands are matched to the profile's own variants by their '<gene> <variant>' text.
    Returns '' when an operand names no variant of the profile.
    """
    by_text = {names[v].lower(): v for v in variant_ids if v in names}
    parts: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(name):
        operand = name[pos : m.start()].strip()
        if operand:
            if operand.lower() not in by_text:
                return ""
            parts.append(f"v{by_text[operand.lower()]}")
        parts.append(m.group(0))
        pos = m.end()
    tail = name[pos:].strip()
    if tail:
        if tail.lower() not in by_text:
            return ""
        parts.append(f"v{by_text[tail.lower()]}")
    return " ".join(parts)


def build_profiles(
    rows: list[dict[str, str]], names: dict[int, str]
) -> tuple[list[dict[str, object]], int]:
    out: list[dict[str, object]] = []
    unparsed = 0
    for r in rows:
        ids = [int(x) for x in r["variant_ids"].replace(" ", "").split(",") if x]
        expression = profile_expression(r["name"], ids, names)
        if len(ids) == 1 and not expression:
            expression = f"v{ids[0]}"
        logic = "single" if len(ids) == 1 else "complex"
        if not expression:
            unparsed += 1
            logic = "unparsed"
        out.append({
            "profile_id": int(r["molecular_profile_id"]),
            "name": r["name"],
            "logic": logic,
            "expression": expression,
            "variant_ids": ",".join(str(i) for i in ids),
        })
    return sorted(out, key=lambda p: int(str(p["profile_id"]))), unparsed


def build_evidence(
    rows: list[dict[str, str]], assertions: list[dict[str, str]]
) -> list[dict[str, object]]:
    by_eid: dict[int, list[dict[str, str]]] = {}
    for a in assertions:
        for eid in a.get("evidence_item_ids", "").replace(" ", "").split(","):
            if eid.isdigit():
                by_eid.setdefault(int(eid), []).append(a)
    out: list[dict[str, object]] = []
    for r in rows:
        if r["evidence_status"] != "accepted":
            continue
        evidence_id = int(r["evidence_id"])
        linked = sorted(by_eid.get(evidence_id, []), key=lambda a: int(a["assertion_id"]))
        therapies = [t.strip() for t in r["therapies"].split(",") if t.strip()]
        out.append({
            "evidence_id": evidence_id,
            "profile_id": int(r["molecular_profile_id"]),
            "evidence_type": r["evidence_type"],
            "evidence_direction": r["evidence_direction"],
            "significance": r["significance"],
            "evidence_level": r["evidence_level"],
            "rating": r["rating"],
            "disease": r["disease"],
            "doid": f"DOID:{r['doid']}" if r["doid"] else "",
            "therapies": ";".join(therapies),
            "therapy_interaction_type": r["therapy_interaction_type"],
            "variant_origin": r["variant_origin"],
            "citation_id": r["citation_id"],
            "source_type": r["source_type"],
            "citation": r["citation"],
            "nct_ids": r["nct_ids"].replace(" ", ""),
            "assertion_ids": ",".join(a["assertion_id"] for a in linked),
            "amp_category": ";".join(sorted({a.get("amp_category", "") for a in linked} - {""})),
            "regulatory_approval": ";".join(
                sorted({a.get("regulatory_approval", "") for a in linked} - {""})),
            "nccn_guideline": ";".join(sorted({a.get("nccn_guideline", "") for a in linked} - {""})),
        })
    return sorted(out, key=lambda e: int(str(e["evidence_id"])))


def release_date(release_dir: Path) -> str:
    """'01-Aug-2024-…' → '2024-08-01'; the folder name is used when it is already a date."""
    import datetime as dt

    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", release_dir.name):
        return release_dir.name
    head = release_files(release_dir)["ClinicalEvidence"].name[:11]
    return dt.datetime.strptime(head, "%d-%b-%Y").date().isoformat()


def build_tables(release_dir: Path) -> tuple[dict[str, list[dict[str, object]]], dict[str, object]]:
    files = release_files(release_dir)
    variants, operands = build_variants(_read(files["Variant"]))
    profiles, unparsed = build_profiles(_read(files["MolecularProfile"]), operands)
    evidence = build_evidence(_read(files["ClinicalEvidence"]), _read(files["Assertion"]))
    coverage = build_coverage(variants, profiles, evidence)
    counts: dict[str, object] = {
        "variants": len(variants),
        "profiles": len(profiles),
        "profiles_complex": sum(1 for p in profiles if p["logic"] == "complex"),
        "profiles_unparsed": unparsed,
        "evidence_items": len(evidence),
        "variant_kinds": _count(v["kind"] for v in variants),
    }
    tables = {"variants": variants, "profiles": profiles, "evidence": evidence, "coverage": coverage}
    return tables, counts


# Variant kinds a VCF, a copy-number table or a fusion table can show (pgx.match.satisfies).
REACHABLE_KINDS = frozenset({
    "protein", "codon", "frameshift", "protein_indel", "exon", "gene", "copy_number", "fusion",
    "rsid", "itd", "domain", "exon_skipping", "egfrviii", "cdna",
})
COVERAGE_COLUMNS = ["kind", "reachable", "reason", "evidence_items", "evidence_items_level_ab"]
_NOT_FROM_DNA = (
    ("expression", "expression, protein or serum level: not measured from DNA"),
    ("serum", "expression, protein or serum level: not measured from DNA"),
    ("phosphorylation", "expression, protein or serum level: not measured from DNA"),
    ("methylation", "methylation: not measured from a VCF"),
    ("wildtype", "wild-type: needs the regions tested, which a VCF does not give"),
    ("wild type", "wild-type: needs the regions tested, which a VCF does not give"),
    ("promoter", "promoter variant: non-coding, not annotated"),
    ("loh", "loss of heterozygosity: needs allele-specific copy number"),
    ("v7", "RNA splice isoform: not measured from DNA"),
    ("polymorphism", "germline structural polymorphism: not called from a VCF"),
)


def unreachable_reason(variant: dict[str, object]) -> str:
    """Why a patient's data can never show this knowledge-base variant ('' when it can)."""
    if variant["kind"] in REACHABLE_KINDS:
        return ""
    if not variant["gene"]:
        return "genome-wide feature (TMB, signature, kataegis): not computed by pgx"
    name = str(variant["name"]).lower()
    if _STAR_ALLELE.search(name):
        return "pharmacogene star allele or zygosity: called by the pharmacogenomics step"
    for word, reason in _NOT_FROM_DNA:
        if word in name:
            return reason
    return "variant class not modelled (named region or class without a rule)"


def build_coverage(variants: list[dict[str, object]], profiles: list[dict[str, object]],
                   evidence: list[dict[str, object]]) -> list[dict[str, object]]:
    """Evidence items by variant kind: reachable from a patient's data, or why not. A complex
    profile is reachable when its logic can be true with reachable variants alone."""
    from pgx.match import evaluate

    by_id = {int(str(v["variant_id"])): v for v in variants}
    reachable = {vid for vid, v in by_id.items() if not unreachable_reason(v)}
    profile_of = {int(str(p["profile_id"])): p for p in profiles}
    table: dict[tuple[str, bool, str], list[int]] = {}
    for e in evidence:
        profile = profile_of.get(int(str(e["profile_id"])))
        if profile is None or profile["logic"] == "unparsed":
            key = ("unparsed profile", False, "profile logic (AND/OR/NOT) could not be parsed")
        elif "NOT" in str(profile["expression"]).split():
            key = ("absence", False, "needs a variant to be absent, which a VCF does not prove")
        elif any(int(x) not in by_id for x in str(profile["variant_ids"]).split(",") if x):
            key = ("unparsed profile", False, "names a variant the release does not list")
        else:
            ids = [int(x) for x in str(profile["variant_ids"]).split(",") if x]
            ok = evaluate(str(profile["expression"]), reachable)
            if len(ids) == 1:
                v = by_id[ids[0]]
                key = (str(v["kind"]), ok, unreachable_reason(v))
            else:
                reasons = sorted({unreachable_reason(by_id[i]) for i in ids} - {""})
                key = ("complex", ok, "" if ok else "a required part is not reachable: " + "; ".join(reasons))
        counts = table.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += str(e["evidence_level"]) in ("A", "B")
    return [{"kind": k, "reachable": ok, "reason": reason, "evidence_items": n, "evidence_items_level_ab": ab}
            for (k, ok, reason), (n, ab) in sorted(table.items(), key=lambda x: (x[0][0], not x[0][1], x[0][2]))]


def _count(values: object) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:  # type: ignore[attr-defined]
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))


def lift_variants(variants: list[dict[str, object]], lift: object) -> tuple[list[dict[str, object]], dict[str, int]]:
    """Add GRCh38 coordinates to every variant with GRCh37 ones. Checks: both ends in one
    chain block on the + strand (length kept; a codon stays 3 bp). What fails keeps no GRCh38
    coordinates and is counted."""
    counts = {"with_grch37": 0, "lifted": 0, "dropped": 0}
    out = []
    for v in variants:
        row = dict(v)
        row.update(grch38_chrom="", grch38_start="", grch38_stop="")
        if v["grch37_start"]:
            counts["with_grch37"] += 1
            start, stop = int(str(v["grch37_start"])), int(str(v["grch37_stop"] or v["grch37_start"]))
            hit = lift.lift_interval(str(v["grch37_chrom"]), start, max(start, stop))  # type: ignore[attr-defined]
            if hit is None:
                counts["dropped"] += 1
            else:
                counts["lifted"] += 1
                row.update(grch38_chrom=hit[0], grch38_start=hit[1], grch38_stop=hit[2])
        out.append(row)
    return out, counts
