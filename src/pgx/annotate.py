"""Variant → Annotation: gene, transcript, consequence, HGVSc/HGVSp.

Order of preference: VEP CSQ or SnpEff ANN already in the file; otherwise the built-in
annotator on GRCh38 MANE Select models; otherwise none (exact genomic matching only), and the
reason is written beside the variant.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pgx.genome import Genome
from pgx.outputs import inert
from pgx.protein import ProteinChange, from_vep_codons, protein_effect
from pgx.transcripts import (
    ONE_LETTER,
    THREE_LETTER,
    Transcript,
    TranscriptIndex,
    no_cycle_collection,
    reverse_complement,
)
from pgx.vcf import Variant

# Most severe first (Ensembl VEP's order, trimmed to what we emit or read).
SEVERITY = [
    "transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
    "frameshift_variant", "stop_lost", "start_lost", "transcript_amplification",
    "inframe_insertion", "inframe_deletion", "missense_variant", "protein_altering_variant",
    "splice_region_variant", "splice_donor_5th_base_variant", "splice_donor_region_variant",
    "splice_polypyrimidine_tract_variant", "incomplete_terminal_codon_variant",
    "start_retained_variant", "stop_retained_variant", "synonymous_variant",
    "coding_sequence_variant", "mature_miRNA_variant", "5_prime_UTR_variant",
    "3_prime_UTR_variant", "non_coding_transcript_exon_variant", "intron_variant",
    "NMD_transcript_variant", "non_coding_transcript_variant", "upstream_gene_variant",
    "downstream_gene_variant", "intergenic_variant",
]
_RANK = {term: i for i, term in enumerate(SEVERITY)}

PROTEIN_ALTERING = frozenset({
    "transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
    "frameshift_variant", "stop_lost", "start_lost", "inframe_insertion", "inframe_deletion",
    "missense_variant", "protein_altering_variant",
})
LOSS_OF_FUNCTION = frozenset({
    "transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
    "frameshift_variant", "start_lost",
})


UNKNOWN_CODON_NOTE = "HGVSp unknown: codon bases not known without a reference genome (pgx reference fetch)"


def severity_rank(consequence: str) -> int:
    """Rank of the most severe term in an '&'-joined consequence; lower is more severe."""
    return min((_RANK.get(t, len(SEVERITY)) for t in consequence.split("&")), default=len(SEVERITY))


class Annotation(NamedTuple):
    """What a variant does to one transcript. A named tuple: one is made per variant."""

    gene: str | None
    transcript: str | None
    refseq: str | None
    consequence: str
    hgvsc: str | None
    hgvsp: str | None
    protein: ProteinChange | None
    exon: int | None
    intron: int | None
    source: str  # vep_csq, snpeff_ann, builtin, none
    note: str = ""

    @property
    def protein_change(self) -> str | None:
        return self.protein.short if self.protein else None


_HGVSP = re.compile(
    r"^p\.\(?(?P<ref>[A-Z][a-z]{2}|\*)(?P<pos>\d+)"
    r"(?:_(?P<ref2>[A-Z][a-z]{2})(?P<pos2>\d+))?"
    r"(?P<rest>.*?)\)?$"
)


def parse_hgvsp(text: str | None) -> ProteinChange | None:
    """'ENSP…:p.Val600Glu', 'p.(Gly12Asp)', 'p.Glu746_Ala750del', 'p.Leu858Arg' → ProteinChange."""
    if not text:
        return None
    text = text.split(":", 1)[1] if ":" in text else text
    text = text.replace("%3D", "=")
    m = _HGVSP.match(text)
    if not m:
        return None
    ref = _one(m["ref"])
    pos = int(m["pos"])
    rest = m["rest"]
    if m["pos2"]:
        end = int(m["pos2"])
        ref2 = _one(m["ref2"])
        if rest.startswith("delins"):
            ins = _aa_seq(rest[6:])
            return ProteinChange(f"{ref}{pos}_{ref2}{end}delins{ins}", ref, pos, end, ins, "delins")
        if rest.startswith("del"):
            return ProteinChange(f"{ref}{pos}_{ref2}{end}del", ref, pos, end, None, "deletion")
        if rest.startswith("ins"):
            ins = _aa_seq(rest[3:])
            return ProteinChange(f"{ref}{pos}_{ref2}{end}ins{ins}", ref, pos, end, ins, "insertion")
        if rest.startswith("dup"):
            return ProteinChange(f"{ref}{pos}_{ref2}{end}dup", ref, pos, end, None, "insertion")
        return ProteinChange(f"{ref}{pos}_{ref2}{end}", ref, pos, end, None, "other")
    if "fs" in rest:
        return ProteinChange(f"{ref}{pos}fs", ref, pos, pos, None, "frameshift")
    if rest in ("=", ref and THREE_LETTER.get(ref, "")):
        return ProteinChange(f"{ref}{pos}=", ref, pos, pos, ref, "synonymous")
    if rest.startswith("delins"):
        ins = _aa_seq(rest[6:])
        return ProteinChange(f"{ref}{pos}delins{ins}", ref, pos, pos, ins, "delins")
    if rest.startswith("del"):
        return ProteinChange(f"{ref}{pos}del", ref, pos, pos, None, "deletion")
    if rest.startswith("dup"):
        return ProteinChange(f"{ref}{pos}dup", ref, pos, pos, None, "insertion")
    alt = _aa_seq(rest)
    if len(alt) == 1:
        kind = "nonsense" if alt == "*" else "missense"
        return ProteinChange(f"{ref}{pos}{alt}", ref, pos, pos, alt, kind)
    return ProteinChange(f"{ref}{pos}{rest}", ref, pos, pos, None, "other")


def _one(three: str) -> str:
    return "*" if three in ("*", "Ter") else ONE_LETTER.get(three, "X")


def _aa_seq(text: str) -> str:
    out = []
    for i in range(0, len(text) - 2, 3):
        chunk = text[i : i + 3]
        if chunk not in ONE_LETTER:
            break
        out.append(ONE_LETTER[chunk])
    if text == "*":
        return "*"
    return "".join(out)


def _three(one: str) -> str:
    return THREE_LETTER.get(one, "Xaa")


class CsqParser:
    """Reads VEP CSQ or SnpEff ANN with the field order the header gives."""

    def __init__(self, header: str):
        self.tag: str | None = None
        self.fields: list[str] = []
        for tag, kind in (("CSQ", "vep_csq"), ("ANN", "snpeff_ann")):
            m = re.search(rf'##INFO=<ID={tag},.*?Format: ?([^">]+)', header)
            if m:
                self.tag, self.kind = tag, kind
                self.fields = [f.strip() for f in re.split(r"\|", m.group(1).strip(" '"))]
                break

    @property
    def present(self) -> bool:
        return self.tag is not None

    def entries(self, columns: list[str], variant: Variant, raw_alt: str) -> list[dict[str, str]]:
        """The entries for one ALT allele, from the INFO text of the record's `columns`."""
        assert self.tag is not None
        key = self.tag + "="
        value = next((item[len(key):] for item in columns[7].split(";") if item.startswith(key)), None)
        if not value:
            return []
        rows = []
        wanted = {raw_alt, _vep_allele(columns[3], raw_alt), variant.alt}
        for entry in value.split(","):
            parts = entry.split("|")
            row = dict(zip(self.fields, parts, strict=False))
            allele = row.get("Allele", row.get("ALLELE", ""))
            if allele in wanted:
                rows.append(row)
        return rows

    def annotate(
        self, columns: list[str], variant: Variant, raw_alt: str, preferred: dict[str, set[str]]
    ) -> Annotation | None:
        rows = self.entries(columns, variant, raw_alt)
        if not rows:
            return None
        if self.kind == "vep_csq":
            candidates = [_from_vep(r) for r in rows]
        else:
            candidates = [_from_snpeff(r) for r in rows]
        chosen = min(
            (c for c in candidates if c[0].gene),
            key=lambda c: _choice_key(c[0], c[1], preferred),
            default=None,
        )
        if chosen is None:
            return candidates[0][0]
        annotation, flags = chosen
        reason = _choice_reason(annotation, flags, preferred)
        return _with_note(annotation, f"{reason}; {annotation.note}" if annotation.note else reason)


def _vep_allele(ref: str, alt: str) -> str:
    """VEP drops the shared first base of indels and writes '-' for an empty allele."""
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        return alt[1:] or "-"
    return alt


def _from_vep(row: dict[str, str]) -> tuple[Annotation, dict[str, bool]]:
    hgvsp = row.get("HGVSp") or None
    protein, note = parse_hgvsp(hgvsp), ""
    if hgvsp is None and row.get("Codons"):  # VEP run without --hgvs still names the codons
        effect = from_vep_codons(row["Codons"], row.get("Protein_position", ""))
        if effect is not None:
            hgvsp, protein, note = effect.hgvsp, effect.protein, "HGVSp from VEP's Codons (VEP ran without --hgvs)"
    exon = _fraction_first(row.get("EXON", ""))
    intron = _fraction_first(row.get("INTRON", ""))
    annotation = Annotation(
        gene=row.get("SYMBOL") or None,
        transcript=row.get("Feature") or None,
        refseq=(row.get("MANE_SELECT") or row.get("RefSeq") or None),
        consequence=row.get("Consequence", "") or "unknown",
        hgvsc=(row.get("HGVSc") or None),
        hgvsp=hgvsp.replace("%3D", "=") if hgvsp else None,
        protein=protein,
        exon=exon,
        intron=intron,
        source="vep_csq",
        note=note,
    )
    flags = {
        "mane": bool(row.get("MANE_SELECT")),
        "canonical": row.get("CANONICAL", "") == "YES",
        "coding": row.get("BIOTYPE", "protein_coding") == "protein_coding",
    }
    return annotation, flags


def _from_snpeff(row: dict[str, str]) -> tuple[Annotation, dict[str, bool]]:
    # SnpEff ANN: Allele|Annotation|Impact|Gene_Name|Gene_ID|Feature_Type|Feature_ID|
    # Transcript_BioType|Rank|HGVS.c|HGVS.p|...
    values = list(row.values())

    def get(i: int) -> str:
        return values[i] if len(values) > i else ""

    rank = get(8)
    hgvsp = get(10) or None
    annotation = Annotation(
        gene=get(3) or None,
        transcript=get(6) or None,
        refseq=None,
        consequence=get(1) or "unknown",
        hgvsc=get(9) or None,
        hgvsp=hgvsp,
        protein=parse_hgvsp(hgvsp),
        exon=_fraction_first(rank) if get(1) and "intron" not in get(1) else None,
        intron=_fraction_first(rank) if "intron" in get(1) else None,
        source="snpeff_ann",
    )
    return annotation, {"mane": False, "canonical": False, "coding": get(7) == "protein_coding"}


def _fraction_first(text: str) -> int | None:
    head = text.split("/", 1)[0].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _unversioned(transcript: str | None) -> str:
    return (transcript or "").split(".", 1)[0]


def _choice_key(
    annotation: Annotation, flags: dict[str, bool], preferred: dict[str, set[str]]
) -> tuple[int, int, int, int, int, str]:
    kb_tx = preferred.get(annotation.gene or "", set())
    return (
        0 if _unversioned(annotation.transcript) in kb_tx else 1,
        0 if flags["mane"] else 1,
        0 if flags["canonical"] else 1,
        0 if flags["coding"] else 1,
        severity_rank(annotation.consequence),
        annotation.transcript or "",
    )


def _choice_reason(
    annotation: Annotation, flags: dict[str, bool], preferred: dict[str, set[str]]
) -> str:
    if _unversioned(annotation.transcript) in preferred.get(annotation.gene or "", set()):
        return "transcript chosen: knowledge base's transcript"
    if flags["mane"]:
        return "transcript chosen: MANE Select"
    if flags["canonical"]:
        return "transcript chosen: canonical"
    return "transcript chosen: most severe consequence"


def _with_note(annotation: Annotation, note: str) -> Annotation:
    return annotation._replace(note=note)


_INTERGENIC = Annotation(None, None, None, "intergenic_variant", None, None, None, None, None, "builtin",
                         "outside every MANE Select transcript")


class BuiltinAnnotator:
    """Consequence and HGVS from MANE Select models; sequence from the reference genome, or,
    without one, the bundled codons whose bases are known."""

    def __init__(self, index: TranscriptIndex, genome: Genome | None = None):
        self.index = index
        self.genome = genome

    def annotate(self, variant: Variant) -> Annotation:
        end = variant.pos + max(len(variant.ref), 1) - 1
        overlapping = self.index.overlapping(variant.chrom, variant.pos, end)
        if len(overlapping) == 1:
            return self._on_transcript(variant, overlapping[0])
        best: Annotation | None = None
        for tx in overlapping:
            annotation = self._on_transcript(variant, tx)
            if best is None or severity_rank(annotation.consequence) < severity_rank(best.consequence):
                best = annotation
        return _INTERGENIC if best is None else best

    def _window(self, tx: Transcript, codons: list[int]) -> tuple[str, int] | None:
        """Sequence covering `codons` in transcript orientation, and the codon it starts at."""
        if self.genome is not None:
            window = self.genome.transcript_window(tx)
            if len(window) >= 3 * codons[-1]:
                return window, 1
        known = self.index.codons.get((tx.transcript, codons[0])) if len(codons) == 1 else None
        return (known, codons[0]) if known else None

    def _on_transcript(self, variant: Variant, tx: Transcript) -> Annotation:
        if variant.is_snv or variant.kind == "MNV":
            return self._substitution(variant, tx)
        return self._indel(variant, tx)

    def _base(self, tx: Transcript, **kw: Any) -> dict[str, Any]:
        return {"gene": tx.gene, "transcript": tx.transcript, "refseq": tx.refseq,
                "source": "builtin", **kw}

    def _substitution(self, variant: Variant, tx: Transcript) -> Annotation:
        positions = [variant.pos + i for i in range(len(variant.ref))]
        located = [tx.locate(g) for g in positions]
        first = located[0] if tx.strand == "+" else located[-1]
        last = located[-1] if tx.strand == "+" else located[0]
        if first is None or last is None or any(p is None for p in located):
            return Annotation(**self._base(tx, consequence="coding_sequence_variant", hgvsc=None,
                                           hgvsp=None, protein=None, exon=None, intron=None,
                                           note="variant crosses the transcript's edge"))
        ref_c = variant.ref if tx.strand == "+" else reverse_complement(variant.ref)
        alt_c = variant.alt if tx.strand == "+" else reverse_complement(variant.alt)
        if first.hgvs == last.hgvs:
            hgvsc = f"c.{first.hgvs}{ref_c}>{alt_c}"
        else:
            hgvsc = f"c.{first.hgvs}_{last.hgvs}delins{alt_c}"
        if not all(p is not None and p.region == "cds" for p in located):
            return self._noncoding(tx, located, hgvsc)
        cds = sorted(p.cds for p in located if p is not None and p.cds is not None)
        codons = sorted({(c - 1) // 3 + 1 for c in cds})
        return self._coding(tx, hgvsc, first.exon, codons, cds[0] - 1, cds[-1], ref_c, alt_c)

    def _coding(self, tx: Transcript, hgvsc: str, exon: int | None, codons: list[int], start: int, end: int,
                ref_c: str, alt_c: str, note: str = "") -> Annotation:
        """The protein change of replacing CDS bases [start, end) (0-based) by `alt_c`."""
        window = self._window(tx, codons)
        codon, codon_end = codons[0], codons[-1]
        if window is None:
            kind = "unknown"
            if len(ref_c) != len(alt_c):
                kind = ("frameshift" if (len(alt_c) - len(ref_c)) % 3
                        else "deletion" if len(ref_c) > len(alt_c) else "insertion")
            short = (f"codon {codon}" if kind == "unknown" else f"codon {codon} frameshift" if kind == "frameshift"
                     else f"codons {codon}-{codon_end} {kind}")
            consequence = {"unknown": "protein_altering_variant" if len(codons) > 1 else "coding_sequence_variant",
                           "frameshift": "frameshift_variant", "deletion": "inframe_deletion",
                           "insertion": "inframe_insertion"}[kind]
            return Annotation(**self._base(
                tx, consequence=consequence, hgvsc=hgvsc, hgvsp=None,
                protein=ProteinChange(short, None, codon, codon_end, None, kind), exon=exon, intron=None,
                note="; ".join(filter(None, [note, UNKNOWN_CODON_NOTE]))))
        bases, first_codon = window
        offset = 3 * (first_codon - 1)
        if bases[start - offset:end - offset] != ref_c:
            return Annotation(**self._base(
                tx, consequence="coding_sequence_variant", hgvsc=hgvsc, hgvsp=None, protein=None, exon=exon,
                intron=None, note=f"REF {ref_c} does not match the transcript's bases "
                                  f"{bases[start - offset:end - offset]} at codon {codon}"))
        effect = protein_effect(bases, first_codon, start - offset, end - offset, alt_c)
        return Annotation(**self._base(
            tx, consequence=effect.consequence, hgvsc=hgvsc, hgvsp=effect.hgvsp or None, protein=effect.protein,
            exon=exon, intron=None, note="; ".join(filter(None, [note, "isoform: MANE Select"]))))

    def _noncoding(self, tx: Transcript, located: list[Any], hgvsc: str) -> Annotation:
        worst = "intron_variant"
        exon = intron = None
        for p in located:
            if p.region == "utr5":
                term, exon = "5_prime_UTR_variant", p.exon
            elif p.region == "utr3":
                term, exon = "3_prime_UTR_variant", p.exon
            elif p.region == "cds":
                term, exon = "coding_sequence_variant", p.exon
            else:
                intron = p.intron
                if p.splice_distance <= 2:
                    term = f"splice_{p.splice_side}_variant"
                elif p.splice_distance <= 8:
                    term = "splice_region_variant"
                else:
                    term = "intron_variant"
            if _RANK[term] < _RANK[worst]:
                worst = term
        return Annotation(tx.gene, tx.transcript, tx.refseq, worst, hgvsc, None, None, exon, intron, "builtin")

    def _indel(self, variant: Variant, tx: Transcript) -> Annotation:
        pos, ref, alt = variant.pos, variant.ref, variant.alt
        genome = self.genome
        if genome is not None:  # HGVS places a change at its 3′-most position on the transcript
            pos, ref, alt = genome.shifted(variant.chrom, pos, ref, alt, right=tx.strand == "+")
        anchored = ref[0] == alt[0]
        deleted, inserted = (ref[1:], alt[1:]) if anchored else (ref, alt)
        first = pos + 1 if anchored else pos
        replaced = [first + i for i in range(len(deleted))]
        # An insertion sits between two bases: its anchor and the next.
        located = [tx.locate(g) for g in (replaced or [pos, pos + 1])]
        if any(p is None for p in located):
            return Annotation(**self._base(tx, consequence="coding_sequence_variant", hgvsc=None,
                                           hgvsp=None, protein=None, exon=None, intron=None,
                                           note="indel crosses the transcript's edge"))
        ends = [located[0], located[-1]] if tx.strand == "+" else [located[-1], located[0]]
        assert ends[0] is not None and ends[1] is not None
        a, b = ends[0].hgvs, ends[1].hgvs
        inserted_c = inserted if tx.strand == "+" else reverse_complement(inserted)
        if not deleted:
            hgvsc = f"c.{a}_{b}ins{inserted_c}"
            duplicated = self._duplicated(variant.chrom, pos, inserted, tx)
            if duplicated:
                hgvsc = f"c.{duplicated}dup"
        elif not inserted:
            hgvsc = f"c.{a}del" if a == b else f"c.{a}_{b}del"
        else:
            hgvsc = f"c.{a}_{b}delins{inserted_c}" if a != b else f"c.{a}delins{inserted_c}"
        note = "" if genome is not None else "HGVS not 3'-shifted (no reference sequence)"
        if not all(p is not None and p.region == "cds" for p in located):
            annotation = self._noncoding(tx, located, hgvsc)
            return _with_note(annotation, note) if note else annotation
        cds = sorted(p.cds for p in located if p is not None and p.cds is not None)
        codons = sorted({(c - 1) // 3 + 1 for c in cds})
        start, end = (cds[0] - 1, cds[-1]) if deleted else (cds[0], cds[0])
        deleted_c = deleted if tx.strand == "+" else reverse_complement(deleted)
        return self._coding(tx, hgvsc, ends[0].exon, [codons[0], codons[-1]], start, end, deleted_c, inserted_c,
                            note)

    def _duplicated(self, chrom: str, pos: int, inserted: str, tx: Transcript) -> str | None:
        """'c.X' or 'c.X_Y' when the bases inserted after `pos` repeat the ones just 5′ of the
        insertion on the transcript (HGVS calls that a duplication); needs the genome."""
        if self.genome is None:
            return None
        n = len(inserted)
        if tx.strand == "+":
            span = (pos - n + 1, pos) if self.genome.fetch(chrom, pos - n, pos) == inserted else None
        else:
            span = (pos + n, pos + 1) if self.genome.fetch(chrom, pos, pos + n) == inserted else None
        if span is None:
            return None
        head, tail = tx.locate(span[0]), tx.locate(span[1])
        if head is None or tail is None:
            return None
        return head.hgvs if n == 1 else f"{head.hgvs}_{tail.hgvs}"


class LiftedAnnotator:
    """The built-in annotator for GRCh37 variants: lift to GRCh38, annotate, keep the note."""

    def __init__(self, annotator: BuiltinAnnotator, lift: Any):
        self.annotator = annotator
        self.lift = lift

    def annotate(self, variant: Variant) -> Annotation:
        end = variant.pos + len(variant.ref) - 1
        hit = self.lift.lift_interval(variant.chrom, variant.pos, end)
        if hit is None:
            return Annotation(None, None, None, "unknown", None, None, None, None, None, "none",
                              "not annotated: position does not lift to GRCh38 through one chain block")
        chrom, start, _ = hit
        lifted = Variant(chrom, start, variant.ref, variant.alt, variant.record_index, variant.alt_index,
                         variant.filter, variant.depth, variant.vaf, variant.depth_source, variant.genotype)
        annotation = self.annotator.annotate(lifted)
        note = f"annotated on GRCh38 at {chrom}:{start} via liftover"
        return _with_note(annotation, f"{annotation.note}; {note}" if annotation.note else note)


def input_genome(build: str, references: Mapping[str, str] | None) -> str | None:
    return (references or {}).get(build) or None


def builtin_annotator(resources: Path, build: str, references: Mapping[str, str] | None) -> BuiltinAnnotator | LiftedAnnotator:
    """The built-in annotator for `build` input: GRCh38 models, read through liftover for
    GRCh37 input; sequence from the GRCh38 reference genome when `references` has one."""
    index = TranscriptIndex.load(resources / "annotation")
    grch38 = (references or {}).get("GRCh38")
    builtin = BuiltinAnnotator(index, Genome(grch38, "GRCh38") if grch38 else None)
    if build == "GRCh38":
        return builtin
    from pgx.liftover import LiftOver

    # GRCh37 input is annotated on GRCh38 models through liftover and reported in its own
    # coordinates; its REF is checked against the GRCh37 genome, its codons read from GRCh38's.
    return LiftedAnnotator(builtin, LiftOver.load(resources / "liftover/GRCh37_to_GRCh38.tsv.gz"))


def load_preferred_transcripts(path: str | Path) -> dict[str, set[str]]:
    """Knowledge-base transcripts per gene (unversioned ENST), from the KB's variant table."""
    from pgx.outputs import read_tsv

    preferred: dict[str, set[str]] = {}
    p = Path(path)
    if not p.exists():
        return preferred
    for row in read_tsv(p):
        tx = _unversioned(row.get("transcript"))
        if tx:
            preferred.setdefault(row["gene"], set()).add(tx)
    return preferred


VARIANT_COLUMNS = [
    "chrom", "pos", "id", "ref", "alt", "variant_key", "kind", "filter", "depth", "vaf",
    "depth_source", "genotype", "gene", "transcript", "refseq", "consequence", "hgvsc", "hgvsp",
    "protein_change", "ref_aa", "codon", "codon_end", "alt_aa", "protein_kind", "exon", "intron",
    "annotation_source", "annotation_note",
]
INFO_FIELDS = [
    ("PGX_GENE", "String", "Gene symbol (pgx)"),
    ("PGX_TRANSCRIPT", "String", "Transcript chosen for this allele (pgx)"),
    ("PGX_CONSEQUENCE", "String", "Sequence Ontology consequence on PGX_TRANSCRIPT (pgx)"),
    ("PGX_HGVSC", "String", "HGVS coding change on PGX_TRANSCRIPT (pgx)"),
    ("PGX_HGVSP", "String", "HGVS protein change, '.' when unknown (pgx)"),
    ("PGX_VAF", "Float", "Tumor allele fraction (pgx; source in PGX_DEPTH_SOURCE)"),
    ("PGX_DEPTH", "Integer", "Tumor read depth (pgx)"),
    ("PGX_DEPTH_SOURCE", "String", "Tags that gave PGX_DEPTH and PGX_VAF (pgx)"),
    ("PGX_ANNOTATION_SOURCE", "String", "vep_csq, snpeff_ann, builtin or none (pgx)"),
    ("PGX_STATUS", "String", "kept, or why pgx did not use this allele"),
]


_NEEDS_ESCAPE = re.compile(r"[%,;= \t:]")
_INFO_ESCAPES = str.maketrans({"%": "%25", ",": "%2C", ";": "%3B", "=": "%3D", " ": "%20",
                               "\t": "%09", ":": "%3A"})


def _info_value(value: object) -> str:
    """VCF INFO values may not hold ',', ';', '=', whitespace: percent-encode them (VCF 4.3)."""
    if value is None or value == "":
        return "."
    text = str(value)
    return text.translate(_INFO_ESCAPES) if _NEEDS_ESCAPE.search(text) else text


def annotate_vcf(
    vcf_path: str,
    *,
    build: str,
    out_vcf: str,
    out_tsv: str,
    resources: Path,
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
    filters: Any = None,
    references: Mapping[str, str] | None = None,
    qc_out: str | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Stream the VCF once: annotated VCF.gz (+.tbi) keeping every record, and a tidy table of
    the variants that passed. All outputs appear together or not at all.

    htslib writes the VCF.gz and its index, in a process of its own (`IndexedVcfWriter`),
    compressing on `threads` - 1 threads more; the bytes written are the same whatever the
    number. A record either lane cannot take, or htslib cannot read back, is refused in
    htslib's words where htslib reading the input names it (`refuse_unreadable`)."""
    from pgx import __version__
    from pgx.kb import Manifest
    from pgx.outputs import VcfWriteFailed, atomic_path, write_text_atomic
    from pgx.vcf import Filters, UnreadableRecord, refuse_unreadable

    label = Manifest.load(resources).label
    builtin = builtin_annotator(resources, build, references)
    job = _AnnotateJob(
        vcf_path=vcf_path, build=build, tumor_sample=tumor_sample, normal_sample=normal_sample,
        filters=filters or Filters(), input_genome=input_genome(build, references), builtin=builtin,
        preferred=load_preferred_transcripts(resources / "kb/civic/variants.tsv"), kb_label=label,
        table_head=_table_head([f"pgx {__version__}", f"knowledge base: {label}",
                                f"input: {Path(vcf_path).name}", f"build: {build}"]),
        undeclared={kind: () for kind in _TAG_KINDS}, threads=max(1, threads))
    with atomic_path(out_vcf, suffix=".vcf.gz") as tmp_vcf, atomic_path(out_vcf + ".tbi") as tmp_tbi, \
            atomic_path(out_tsv) as tmp_tsv:
        while True:
            try:
                done = _annotate_pass(job, str(tmp_vcf), str(tmp_tsv))
            except UnreadableRecord as exc:
                refuse_unreadable(None, vcf_path, exc.number, f"unreadable record ({exc.problem})")
            except VcfWriteFailed as exc:
                refuse_unreadable(None, vcf_path, None, _UNSORTED if _UNSORTED_BY_HTSLIB.search(str(exc))
                                  else f"unreadable record (htslib: {exc})")
            if not any(done.undeclared.values()):
                break
            # Tags used but not declared: declare them and write again from the start.
            job = dataclasses.replace(job, undeclared={
                kind: tuple(sorted({*job.undeclared[kind], *done.undeclared[kind]}))
                for kind in job.undeclared})
        Path(str(tmp_vcf) + ".tbi").replace(tmp_tbi)
    stats = done.stats
    notes = [] if stats.left_aligned else ["indels were trimmed but not left-aligned (no reference FASTA configured)"]
    if stats.ref_unchecked:
        notes.append(f"REF of {stats.ref_unchecked} records not checked: their contigs are not in the reference FASTA")
    notes += [f"{kind} {tag} used but not declared in the input header; declared in the output"
              for kind, tags in sorted(job.undeclared.items()) for tag in tags]
    qc = {
        "records": stats.records, "alleles": stats.alleles, "kept": stats.kept,
        "removed": dict(sorted(stats.removed.items())), "depth_sources": dict(sorted(stats.depth_sources.items())),
        "annotation_sources": dict(sorted(done.sources.items())),
        "left_aligned": stats.left_aligned,
        "notes": notes,
    }
    if qc_out:
        import json

        write_text_atomic(qc_out, json.dumps(qc, indent=2, sort_keys=True) + "\n")
    return qc


_UNSORTED = ("records are not grouped by contig and sorted by position, so the output cannot be "
             "indexed; sort the input first (bcftools sort)")
# What htslib's indexer says of such records (hts_idx_push).
_UNSORTED_BY_HTSLIB = re.compile(r"Unsorted positions|not continuous")


@dataclass(frozen=True)
class _AnnotateJob:
    """What one annotation pass needs."""

    vcf_path: str
    build: str
    tumor_sample: str | None
    normal_sample: str | None
    filters: Any
    input_genome: str | None  # FASTA of the input's build: REF checks, left-alignment
    builtin: BuiltinAnnotator | LiftedAnnotator
    preferred: dict[str, set[str]]
    kb_label: str
    table_head: str
    undeclared: dict[str, tuple[str, ...]]  # tags the input uses without declaring them
    threads: int = 1  # the writing htslib's


@dataclass
class _PassResult:
    stats: Any  # pgx.vcf.ReadStats
    sources: dict[str, int]
    undeclared: dict[str, set[str]]


def _table_head(comments: list[str]) -> str:
    return "".join(f"## {c}\n" for c in comments) + "\t".join(VARIANT_COLUMNS) + "\n"


def _reader_with_our_header(job: _AnnotateJob) -> Any:
    """The input opened with our INFO tags, the undeclared tags and our provenance declared."""
    from pgx import __version__
    from pgx.errors import PgxInputError
    from pgx.vcf import open_vcf

    reader = open_vcf(job.vcf_path)
    header = reader.raw_header
    for tag, kind, description in INFO_FIELDS:
        if f"ID={tag}," in header:
            raise PgxInputError(job.vcf_path, f"INFO/{tag} already in the header: pgx writes that tag",
                                record="header")
        reader.add_info_to_header({"ID": tag, "Number": "A", "Type": kind, "Description": description})
    undeclared = job.undeclared
    for tag in undeclared["FILTER"]:
        reader.add_filter_to_header({"ID": tag, "Description": "Not declared in the input header"})
    for tag in undeclared["INFO"]:
        reader.add_info_to_header({"ID": tag, "Number": ".", "Type": "String",
                                   "Description": "Not declared in the input header"})
    for tag in undeclared["FORMAT"]:
        reader.add_format_to_header({"ID": tag, "Number": "1" if tag == "GT" else ".", "Type": "String",
                                     "Description": "Not declared in the input header"})
    for contig in undeclared["contig"]:
        reader.add_to_header(f"##contig=<ID={contig}>")
    reader.add_to_header(f"##pgx_version={__version__}")
    reader.add_to_header(f"##pgx_knowledge_base={job.kb_label}")
    return reader


_TAG_KINDS = ("FILTER", "INFO", "FORMAT", "contig")
def _no_tags() -> dict[str, set[str]]:
    return {kind: set() for kind in _TAG_KINDS}


def _annotate_pass(job: _AnnotateJob, out_vcf: str, out_tsv: str) -> _PassResult:
    """Every record read is written, with PGX_* INFO per ALT allele (Number=A); every allele
    kept becomes a table row.

    Records are read in batches of their text; the columnar lane (`pgx.columnar`) writes the
    plain ones of a batch, and each of the others goes through `_RecordLane`."""
    from pgx.outputs import IndexedVcfWriter
    from pgx.vcf import HtslibLines, ReadStats, VariantReader, record_line_batches

    reader = _reader_with_our_header(job)
    header = reader.raw_header
    result = _PassResult(ReadStats(), {}, _no_tags())
    csq = CsqParser(header)
    variants_of = VariantReader(
        reader, job.vcf_path, build=job.build, tumor_sample=job.tumor_sample,
        normal_sample=job.normal_sample, filters=job.filters,
        genome=Genome(job.input_genome, job.build) if job.input_genome else None, stats=result.stats)
    columnar = _columnar_lane(job, csq, variants_of.sample, variants_of.genome)
    record_lane = _RecordLane(job, csq, result.sources, HtslibLines(reader))
    # The table is written as UTF-8 bytes: the columnar lane makes its rows as bytes.
    with IndexedVcfWriter(out_vcf, threads=job.threads - 1) as writer, open(out_tsv, "wb") as table:
        writer.write(header)
        table.write(job.table_head.encode())
        # Each batch keeps thousands of records alive, and collections scanning them took 8%
        # of the time; the pass makes no reference cycles.
        with no_cycle_collection():
            _annotate_batches(record_line_batches(reader, job.vcf_path), writer, table, variants_of, columnar,
                              record_lane)
    # htslib, reading what was written, declared the tags the input uses without declaring them.
    result.undeclared = _undeclared(writer.messages)
    return result


_NOT_USED = (".", ".", ".", ".", ".", ".", ".", ".", ".", "not_used")
_INFO_TEMPLATE = ";".join(f"{tag}={{}}" for tag, _, _ in INFO_FIELDS)
_RECORD_LANE_BATCH = 256  # records the per-record lane reads, then writes, at a time


def _annotate_batches(batches: Iterator[tuple[bytes, list[str]]], writer: Any, table: Any, variants_of: Any,
                      columnar: Any, record_lane: _RecordLane) -> None:
    if columnar is not None:
        from pgx.columnar import joined

    previous: tuple[str, int] | None = None
    before = 0  # records in the batches before this one
    for data, lines in batches:
        fast = columnar.annotate(data, len(lines), previous) if columnar is not None else None
        if fast is None:
            # Read some records, then annotate and write them: each stage's code stays warm in
            # the CPU's caches, which saved about a fifth of the time against one at a time.
            for start in range(0, len(lines), _RECORD_LANE_BATCH):
                done = _through_record_lane(record_lane, variants_of, lines,
                                            range(start, min(start + _RECORD_LANE_BATCH, len(lines))), start, before)
                writer.write("".join([line for line, _ in done]))
                table.write("".join([rows for _, rows in done]).encode())
            last = done[-1][0].split("\t", 2)
            previous = (last[0], int(last[1]))
            before += len(lines)
            continue
        previous = fast.last
        done = _through_record_lane(record_lane, variants_of, lines, fast.others, 0, before)
        numbered = fast.others[-1] + 1 if fast.others else 0
        if numbered < len(lines):
            variants_of.skipped(len(lines) - numbered)
        taken = len(lines) - len(fast.others)
        variants_of.kept_elsewhere(taken, columnar.DEPTH_SOURCE)
        if taken:
            record_lane.sources[columnar.ANNOTATION_SOURCE] = record_lane.sources.get(columnar.ANNOTATION_SOURCE, 0) + taken
        written, rows = fast.lines, fast.rows
        if done:
            written = written.scatter(fast.others, [line for line, _ in done])
            rows = rows.scatter(fast.others, [rows for _, rows in done])
        writer.write(joined(written))
        table.write(joined(rows))
        before += len(lines)


def _through_record_lane(record_lane: _RecordLane, variants_of: Any, lines: list[str], indices: Sequence[int],
                         counted: int, before: int) -> list[tuple[str, str]]:
    """The VCF lines and table rows of `lines[i]` for each of `indices` (ascending), from the
    lines as htslib reads them. The variant reader is told of the records from `counted` on
    that are not among them (another lane read those); `before`: records in earlier batches."""
    done = []
    for i, line in zip(indices, record_lane.as_htslib_reads([lines[i] for i in indices],
                                                            [before + i + 1 for i in indices]), strict=True):
        if i > counted:
            variants_of.skipped(i - counted)
        counted = i + 1
        columns = line.split("\t")
        done.append(record_lane(columns, variants_of(columns, int(columns[1]))))
    return done


# htslib's words for a tag it met undeclared (vcf_parse and its helpers).
_UNDECLARED_TAG = re.compile(r"\] (FILTER|INFO|FORMAT) '([^']+)' (?:at \S+ )?is not defined in the header")
_UNDECLARED_CONTIG = re.compile(r"\] Contig '([^']+)' is not defined in the header")


def _undeclared(messages: list[str]) -> dict[str, set[str]]:
    found = _no_tags()
    for message in messages:
        if m := _UNDECLARED_TAG.search(message):
            found[m.group(1)].add(m.group(2))
        elif m := _UNDECLARED_CONTIG.search(message):
            found["contig"].add(m.group(1))
    return found


def _columnar_lane(job: _AnnotateJob, csq: CsqParser, sample: int | None, genome: Genome | None) -> Any:
    """The columnar lane where it applies: built-in annotation on GRCh38 models (no CSQ/ANN to
    read, no liftover) of a sample column; with a genome, it checks the REF of what it takes."""
    if csq.present or sample is None or not isinstance(job.builtin, BuiltinAnnotator):
        return None
    from pgx.columnar import ColumnarLane

    return ColumnarLane(job.builtin.index, sample=sample, filters=job.filters, info_value=_info_value,
                        info_template=_INFO_TEMPLATE, intergenic_cells=_INTERGENIC_CELLS, genome=genome)


class _RecordLane:
    """One record's VCF line and table rows, computed in Python: any record the columnar lane
    does not take, from its line as htslib reads it (`as_htslib_reads`)."""

    def __init__(self, job: _AnnotateJob, csq: CsqParser, sources: dict[str, int], as_htslib_reads: Any) -> None:
        self.as_htslib_reads = as_htslib_reads
        self.csq = csq
        self.builtin = job.builtin
        self.preferred = job.preferred
        self.sources = sources
        self.info_value = _InfoValues()

    def __call__(self, columns: list[str], variants: list[Variant]) -> tuple[str, str]:
        rows = []
        if columns[4] != ".":
            csq, sources, info_value = self.csq, self.sources, self.info_value
            alleles: list[tuple[str, ...]] = []
            by_alt = {v.alt_index: v for v in variants}
            for alt_index, raw_alt in enumerate(columns[4].split(",")):
                variant = by_alt.get(alt_index)
                if variant is None:
                    alleles.append(_NOT_USED)
                    continue
                annotation = csq.annotate(columns, variant, raw_alt, self.preferred) if csq.present else None
                if annotation is None:
                    annotation = self.builtin.annotate(variant)
                sources[annotation.source] = sources.get(annotation.source, 0) + 1
                rows.append(_row_text(variant, annotation, columns[2]))
                alleles.append((
                    info_value[annotation.gene], info_value[annotation.transcript],
                    info_value[annotation.consequence], _info_value(annotation.hgvsc),
                    _info_value(annotation.hgvsp),
                    "." if variant.vaf is None else f"{variant.vaf:.4f}",
                    "." if variant.depth is None else str(variant.depth),
                    info_value[variant.depth_source], info_value[annotation.source], "kept"))
            per_tag = alleles[0] if len(alleles) == 1 else [",".join(v) for v in zip(*alleles, strict=True)]
            ours = _INFO_TEMPLATE.format(*per_tag)
            columns[7] = ours if columns[7] == "." else f"{columns[7]};{ours}"
        return "\t".join(columns) + "\n", "".join(rows)


class _InfoValues(dict[str | None, str]):
    """`_info_value` remembered for the few distinct genes, transcripts, consequences and
    sources (bounded by the transcript models), not for per-variant text such as HGVS."""

    def __missing__(self, value: str | None) -> str:
        text = self[value] = _info_value(value)
        return text


def _row_text(variant: Variant, annotation: Annotation, record_id: str) -> str:
    """One variants.tsv line; the same text as `cell()` of each `_variant_row` value, built
    directly because it is written for every variant of a whole genome."""
    vaf = variant.vaf
    line = "\t".join((
        inert(variant.chrom), str(variant.pos), "" if record_id == "." else inert(record_id), variant.ref,
        variant.alt, variant.key, variant.kind, inert(variant.filter), _text(variant.depth),
        "" if vaf is None else f"{round(vaf, 4):.4g}", variant.depth_source, variant.genotype or "",
        _INTERGENIC_CELLS if annotation is _INTERGENIC else _annotation_cells(annotation)))
    if line.count("\t") != len(VARIANT_COLUMNS) - 1 or "\n" in line or "\r" in line:
        # A value held a tab or line break (possible in CSQ text): clean each cell instead.
        from pgx.outputs import cell

        row = _variant_row(variant, annotation, record_id if record_id != "." else None)
        line = "\t".join([inert(cell(row[c])) for c in VARIANT_COLUMNS])
    return line + "\n"


def _annotation_cells(annotation: Annotation) -> str:
    """The table's columns from `gene` to `annotation_note`, tab-joined."""
    protein = annotation.protein
    cells = [
        annotation.gene or "", annotation.transcript or "", annotation.refseq or "",
        annotation.consequence, annotation.hgvsc or "", annotation.hgvsp or "",
    ]
    if protein is None:
        cells += ["", "", "", "", "", ""]
    else:
        cells += [protein.short, protein.ref_aa or "", _text(protein.codon), _text(protein.codon_end),
                  protein.alt_aa or "", protein.kind]
    cells += [_text(annotation.exon), _text(annotation.intron), annotation.source, annotation.note]
    return "\t".join(cells)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


_INTERGENIC_CELLS = _annotation_cells(_INTERGENIC)  # most of a genome


def _variant_row(variant: Variant, annotation: Annotation, record_id: str | None) -> dict[str, object]:
    protein = annotation.protein
    return {
        "chrom": variant.chrom, "pos": variant.pos, "id": record_id or "", "ref": variant.ref,
        "alt": variant.alt, "variant_key": variant.key, "kind": variant.kind,
        "filter": variant.filter, "depth": variant.depth,
        "vaf": None if variant.vaf is None else round(variant.vaf, 4),
        "depth_source": variant.depth_source, "genotype": variant.genotype,
        "gene": annotation.gene, "transcript": annotation.transcript, "refseq": annotation.refseq,
        "consequence": annotation.consequence, "hgvsc": annotation.hgvsc, "hgvsp": annotation.hgvsp,
        "protein_change": annotation.protein_change,
        "ref_aa": protein.ref_aa if protein else None,
        "codon": protein.codon if protein else None,
        "codon_end": protein.codon_end if protein else None,
        "alt_aa": protein.alt_aa if protein else None,
        "protein_kind": protein.kind if protein else None,
        "exon": annotation.exon, "intron": annotation.intron,
        "annotation_source": annotation.source, "annotation_note": annotation.note,
    }


def _gene_regions(reader: Any, vcf_path: str, index: TranscriptIndex, genes: set[str],
                  lift: Any) -> list[str] | None:
    """Index region queries over the genes' transcripts (GRCh38 models, so only for GRCh38
    input); None means stream the whole file."""
    from pgx.vcf import bare_contig, has_index

    if lift is not None or not has_index(vcf_path):
        return None
    names = {bare_contig(c): c for c in re.findall(r"^##contig=<ID=([^,>]+)", reader.raw_header, re.M)}
    regions = []
    for gene in sorted(genes):
        tx = index.of_gene(gene)
        if tx is not None and tx.chrom in names:
            regions.append((names[tx.chrom], tx.tx_start + 1, tx.tx_end))
    return [f"{c}:{s}-{e}" for c, s, e in sorted(regions)]


def annotate_in_genes(vcf_path: str, *, build: str, resources: Path, genes: set[str],
                      samples: list[str] | None = None,
                      references: Mapping[str, str] | None = None) -> list[dict[str, object]]:
    """Variant rows (as in variants.tsv, with the `sample` that carries each) for the variants
    of `vcf_path` inside `genes` only, for each of `samples` (None: the only sample). A
    cohort's joint-called VCF is read once for all its samples; each variant is annotated once.

    Reads the genes' regions through the index, else streams the whole file, but annotates only
    what falls in those genes' transcripts, so a whole-genome VCF costs a read, not an annotation."""
    from pgx.errors import PgxInputError
    from pgx.vcf import Filters, VariantReader, checked_records, open_vcf, region_records

    builtin = builtin_annotator(resources, build, references)
    index = builtin.index if isinstance(builtin, BuiltinAnnotator) else builtin.annotator.index
    lift = builtin.lift if isinstance(builtin, LiftedAnnotator) else None
    preferred = load_preferred_transcripts(resources / "kb/civic/variants.tsv")
    reader = open_vcf(vcf_path)
    csq = CsqParser(reader.raw_header)
    regions = _gene_regions(reader, vcf_path, index, genes, lift)
    genome_path = input_genome(build, references)
    genome = Genome(genome_path, build) if genome_path else None
    names = list(reader.samples)
    if not samples and len(names) > 1:  # the tumor reader's own guess (a TUMOR column) means nothing here
        raise PgxInputError(vcf_path, f"{len(names)} samples {names[:5]}{'…' if len(names) > 5 else ''}: name the "
                                      "germline one with --sample (germline_sample in the sample sheet)")
    wanted: list[str | None] = list(samples) if samples else [None]
    readers = [VariantReader(reader, vcf_path, build=build, tumor_sample=name, filters=Filters(require_pass=True),
                             genome=genome, in_file_order=regions is None, by_genotype=True) for name in wanted]
    rows: list[dict[str, object]] = []
    records = checked_records(reader, vcf_path) if regions is None else region_records(reader, vcf_path, regions)
    for _, text in records:
        columns = text[:-1].split("\t")
        annotated: dict[tuple[int, str, str], Annotation | None] = {}
        for variants_of in readers:
            sample = names[variants_of.sample] if variants_of.sample is not None else ""
            for variant in variants_of(columns, int(columns[1])):
                key = (variant.pos, variant.ref, variant.alt)
                if key not in annotated:
                    annotated[key] = _in_genes(variant, columns, genes, index, lift, csq, builtin, preferred)
                annotation = annotated[key]
                if annotation is not None:
                    rows.append({"sample": sample, **_variant_row(variant, annotation,
                                                                  None if columns[2] == "." else columns[2])})
    return rows


def _in_genes(variant: Variant, columns: list[str], genes: set[str], index: TranscriptIndex, lift: Any, csq: CsqParser,
              builtin: BuiltinAnnotator | LiftedAnnotator, preferred: dict[str, set[str]]) -> Annotation | None:
    """The variant's annotation when it lies in one of `genes`, else None."""
    chrom, pos = variant.chrom, variant.pos
    if lift is not None:
        hit = lift.lift(chrom, pos)
        if hit is None:
            return None
        chrom, pos = hit
    if not any(t.gene in genes for t in index.overlapping(chrom, pos, pos)):
        return None
    raw_alt = columns[4].split(",")[variant.alt_index]
    annotation = csq.annotate(columns, variant, raw_alt, preferred) if csq.present else None
    if annotation is None:
        annotation = builtin.annotate(variant)
    return annotation if annotation.gene in genes else None
