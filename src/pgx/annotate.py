"""Variant → Annotation: gene, transcript, consequence, HGVSc/HGVSp.

Order of preference: VEP CSQ or SnpEff ANN already in the file; otherwise the built-in
annotator on GRCh38 MANE Select models; otherwise none (exact genomic matching only), and the
reason is written beside the variant.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

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

    def entries(self, record: Any, variant: Variant, raw_alt: str) -> list[dict[str, str]]:
        assert self.tag is not None
        value = record.INFO.get(self.tag)
        if not value:
            return []
        rows = []
        wanted = {raw_alt, _vep_allele(record.REF, raw_alt), variant.alt}
        for entry in str(value).split(","):
            parts = entry.split("|")
            row = dict(zip(self.fields, parts, strict=False))
            allele = row.get("Allele", row.get("ALLELE", ""))
            if allele in wanted:
                rows.append(row)
        return rows

    def annotate(
        self, record: Any, variant: Variant, raw_alt: str, preferred: dict[str, set[str]]
    ) -> Annotation | None:
        rows = self.entries(record, variant, raw_alt)
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

    With `threads` 2, a second process reads and formats the records ahead of the annotating,
    and compresses the annotated VCF; with more and a tabix-indexed input, contigs are annotated
    in that many worker processes and joined in the input's order. The bytes written are the
    same as with one."""
    import pysam

    from pgx import __version__
    from pgx.errors import PgxInputError
    from pgx.kb import Manifest
    from pgx.outputs import atomic_path, write_text_atomic
    from pgx.tabix import UnsortedRecords
    from pgx.vcf import Filters

    label = Manifest.load(resources).label
    undeclared: dict[str, tuple[str, ...]] = {kind: () for kind in _TAG_KINDS}
    # Two cores: a second process reads and formats records from the start (while this one
    # loads the transcript models, then annotates) and compresses what this one writes. More:
    # contigs in parallel, when the input's index says where they are.
    contigs = _contigs_for_workers(vcf_path) if threads > _READ_AHEAD_THREADS else None
    ahead = _ReadAhead(vcf_path, undeclared, label, _LARGE_BATCH) if threads > 1 and not contigs else None
    try:
        builtin = builtin_annotator(resources, build, references)
        job = _AnnotateJob(
            vcf_path=vcf_path, build=build, tumor_sample=tumor_sample, normal_sample=normal_sample,
            filters=filters or Filters(), input_genome=input_genome(build, references), builtin=builtin,
            preferred=load_preferred_transcripts(resources / "kb/civic/variants.tsv"), kb_label=label,
            table_head=_table_head([f"pgx {__version__}", f"knowledge base: {label}",
                                    f"input: {Path(vcf_path).name}", f"build: {build}"]),
            undeclared=undeclared)
        with atomic_path(out_vcf, suffix=".vcf.gz") as tmp_vcf, atomic_path(out_vcf + ".tbi") as tmp_tbi, \
                atomic_path(out_tsv) as tmp_tsv:
            while True:
                done = (_annotate_in_workers(job, contigs, str(tmp_vcf), str(tmp_tsv), threads) if contigs
                        else None)
                if done is None:
                    if ahead is None and threads > 1:  # another pass, or workers that failed
                        ahead = _ReadAhead(vcf_path, job.undeclared, label, _LARGE_BATCH)
                    try:
                        done = _annotate_in_one_pass(job, str(tmp_vcf), str(tmp_tsv), ahead)
                    except UnsortedRecords:
                        raise PgxInputError(vcf_path, _UNSORTED) from None
                    finally:
                        if ahead is not None:
                            ahead.close()
                        ahead = None
                if not any(done.undeclared.values()):
                    break
                # Tags used but not declared: declare them and write again from the start.
                job = dataclasses.replace(job, undeclared={
                    kind: tuple(sorted({*job.undeclared[kind], *done.undeclared[kind]}))
                    for kind in job.undeclared})
            if done.index.spans_known:
                done.index.write(tmp_tbi, np.array(done.layout.block_texts, dtype=np.int64),
                                 np.array(done.layout.block_files, dtype=np.int64))
            else:  # INFO/END spans: htslib's own indexing reads them as it does
                try:
                    pysam.tabix_index(str(tmp_vcf), preset="vcf", force=True, keep_original=True)
                except Exception:
                    raise PgxInputError(vcf_path, _UNSORTED) from None
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
    finally:
        if ahead is not None:
            ahead.close()


_READ_AHEAD_THREADS = 2
_UNSORTED = ("records are not grouped by contig and sorted by position, so the output cannot be "
             "indexed; sort the input first (bcftools sort)")


@dataclass(frozen=True)
class _AnnotateJob:
    """What one annotation pass needs; worker processes receive it by fork."""

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
    columnar: bool = True  # whether the columnar lane may run


@dataclass
class _PassResult:
    stats: Any  # pgx.vcf.ReadStats
    sources: dict[str, int]
    undeclared: dict[str, set[str]]
    index: Any = None  # pgx.tabix.TabixIndex of what was written
    layout: Any = None  # pgx.outputs.BgzfLayout of what was written

    def add(self, other: _PassResult) -> None:
        self.stats.add(other.stats)
        for source, n in other.sources.items():
            self.sources[source] = self.sources.get(source, 0) + n
        for kind, tags in other.undeclared.items():
            self.undeclared[kind] |= tags


def _table_head(comments: list[str]) -> str:
    return "".join(f"## {c}\n" for c in comments) + "\t".join(VARIANT_COLUMNS) + "\n"


def _reader_with_our_header(vcf_path: str, undeclared: dict[str, tuple[str, ...]], kb_label: str) -> Any:
    """The input opened with our INFO tags, the undeclared tags and our provenance declared."""
    from pgx import __version__
    from pgx.errors import PgxInputError
    from pgx.vcf import open_vcf

    reader = open_vcf(vcf_path)
    header = reader.raw_header
    for tag, kind, description in INFO_FIELDS:
        if f"ID={tag}," in header:
            raise PgxInputError(vcf_path, f"INFO/{tag} already in the header: pgx writes that tag",
                                record="header")
        reader.add_info_to_header({"ID": tag, "Number": "A", "Type": kind, "Description": description})
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
    reader.add_to_header(f"##pgx_knowledge_base={kb_label}")
    return reader


_TAG_KINDS = ("FILTER", "INFO", "FORMAT", "contig")
_DECLARED = re.compile(rf"^##({'|'.join(_TAG_KINDS)})=<ID=([^,>]+)", re.M)


def _no_tags() -> dict[str, set[str]]:
    return {kind: set() for kind in _TAG_KINDS}


def _declared_while_reading(before: str, after: str) -> dict[str, set[str]]:
    """Tags htslib declared on its own ('Dummy') while reading records that used them."""
    known = set(_DECLARED.findall(before))
    found = _no_tags()
    for kind, tag in _DECLARED.findall(after):
        if (kind, tag) not in known:
            found[kind].add(tag)
    return found


def _annotate_in_one_pass(job: _AnnotateJob, out_vcf: str, out_tsv: str, ahead: _ReadAhead | None) -> _PassResult:
    return _annotate_part(job, None, out_vcf, out_tsv, ahead)


def _annotate_part(job: _AnnotateJob, contig: str | None, out_vcf: str, out_tsv: str,
                   ahead: _ReadAhead | None = None) -> _PassResult:
    """The whole file (`contig` None: with header lines and the end-of-file block), or one
    contig as a part to be joined (neither); `ahead`, a process reading the whole file."""
    from pgx.outputs import BgzfWriter
    from pgx.tabix import TabixIndex
    from pgx.vcf import ReadStats

    reader = _reader_with_our_header(job.vcf_path, job.undeclared, job.kb_label)
    header = reader.raw_header
    result = _PassResult(ReadStats(), {}, _no_tags(), TabixIndex(0 if contig else len(header.encode())))
    # The table is written as UTF-8 bytes: the columnar lane makes its rows as bytes.
    with BgzfWriter(out_vcf, eof=contig is None, elsewhere=ahead.blocks if ahead is not None else None) as writer, \
            open(out_tsv, "wb") as table:
        if contig is None:
            writer.write(header)
            writer.end_block()
            table.write(job.table_head.encode())
        # Each batch keeps thousands of records alive, and collections scanning them took 8%
        # of the time; the pass makes no reference cycles.
        with no_cycle_collection():
            header_after = _annotate_records(job, reader, None if contig is None else [contig], writer, table, result,
                                             ahead)
    result.index.finish()
    result.layout = writer.layout()
    result.undeclared = _declared_while_reading(header, header_after)
    return result


def _contigs_for_workers(vcf_path: str) -> list[str] | None:
    """The input's contigs in file order, from a current tabix index; None if that cannot be
    known safely (no .tbi, an index older than the file, names a region string would misread)."""
    import pysam

    tbi = Path(vcf_path + ".tbi")
    if not tbi.exists() or tbi.stat().st_mtime < Path(vcf_path).stat().st_mtime:
        return None
    try:
        with pysam.TabixFile(vcf_path) as tabix:
            contigs = [str(c) for c in tabix.contigs]  # tabix numbers contigs in order of appearance
    except Exception:
        return None
    if len(contigs) < 2 or any(":" in c or "-" in c for c in contigs):
        return None
    return contigs


_WORKER_JOB: _AnnotateJob | None = None


def _annotate_in_workers(job: _AnnotateJob, contigs: list[str], out_vcf: str, out_tsv: str,
                         threads: int) -> _PassResult | None:
    """One contig per task; parts joined in the input's order. None when a worker failed, so
    that the caller's single pass reports the problem with its exact line."""
    import multiprocessing
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    from pgx.outputs import BgzfWriter
    from pgx.tabix import TabixIndex, contig_extents
    from pgx.vcf import ReadStats, check_build, tumor_sample_index

    global _WORKER_JOB
    if not sys.platform.startswith("linux"):
        return None  # fork is what lets workers share the loaded transcript index
    reader = _reader_with_our_header(job.vcf_path, job.undeclared, job.kb_label)
    check_build(reader, job.build, job.vcf_path)
    tumor_sample_index(reader, job.vcf_path, job.tumor_sample, job.normal_sample)
    header = reader.raw_header
    result = _PassResult(ReadStats(), {}, _no_tags(), TabixIndex(len(header.encode())))
    with tempfile.TemporaryDirectory(prefix=".pgx-parts-", dir=Path(out_vcf).parent) as parts:
        # Polars cannot run in a process forked after it started its threads (it would hang):
        # workers forked from such a process leave their records to the per-record lane.
        _WORKER_JOB = dataclasses.replace(job, columnar=job.columnar and "polars" not in sys.modules)
        try:
            with ProcessPoolExecutor(max_workers=threads,
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                # Largest contigs first, so that no worker starts a big one while the others
                # have finished; the parts are joined in the input's order whatever the order done.
                extents = contig_extents(job.vcf_path + ".tbi")
                futures = {i: pool.submit(_annotate_contig, contigs[i], f"{parts}/{i}.vcf.gz", f"{parts}/{i}.tsv")
                           for i in sorted(range(len(contigs)), key=lambda i: -extents.get(contigs[i], 0))}
                done = [futures[i].result() for i in range(len(contigs))]
        except Exception:
            return None
        finally:
            _WORKER_JOB = None
        for part in done:
            result.add(part)
        with BgzfWriter(out_vcf) as writer:
            writer.write(header)
            writer.end_block()
            for i, part in enumerate(done):
                writer.append_part(f"{parts}/{i}.vcf.gz", part.layout)
                result.index.extend(part.index, shift=result.index.offset)
        result.layout = writer.layout()
        with open(out_tsv, "wb") as table:
            table.write(job.table_head.encode())
            for i in range(len(contigs)):
                with open(f"{parts}/{i}.tsv", "rb") as part_table:
                    shutil.copyfileobj(part_table, table)
    return result


def _annotate_contig(contig: str, out_vcf: str, out_tsv: str) -> _PassResult:
    """In a worker process: one contig into a BGZF part and a table part."""
    job = _WORKER_JOB
    assert job is not None
    if isinstance(job.builtin, BuiltinAnnotator) and job.builtin.genome is not None:
        # A forked FASTA handle shares its file offset with the other processes: open our own.
        genome = job.builtin.genome
        job = dataclasses.replace(job, builtin=BuiltinAnnotator(job.builtin.index, Genome(genome.path, genome.build)))
    return _annotate_part(job, contig, out_vcf, out_tsv)


_NOT_USED = (".", ".", ".", ".", ".", ".", ".", ".", ".", "not_used")
_INFO_TEMPLATE = ";".join(f"{tag}={{}}" for tag, _, _ in INFO_FIELDS)


def _annotate_records(job: _AnnotateJob, reader: Any, regions: list[str] | None, writer: Any,
                      table: Any, result: _PassResult, ahead: _ReadAhead | None) -> str:
    """Every record read is written, with PGX_* INFO per ALT allele (Number=A); every allele
    kept becomes a table row. A block of the VCF.gz ends where each contig starts, so parts
    made by workers join into the same bytes as one pass.

    Records are read in batches; the columnar lane (`pgx.columnar`) writes the plain ones of
    a batch, and each of the others goes through `_record_lane`. Returns the reader's header
    after reading. `ahead`, when given, reads the same records in another process (its
    caller closes it); used only with the columnar lane."""
    from pgx.vcf import VariantReader

    csq = CsqParser(reader.raw_header)
    variants_of = VariantReader(
        reader, job.vcf_path, build=job.build, tumor_sample=job.tumor_sample,
        normal_sample=job.normal_sample, filters=job.filters,
        genome=Genome(job.input_genome, job.build) if job.input_genome else None, stats=result.stats)
    columnar = _columnar_lane(job, csq, variants_of.sample, variants_of.genome)
    record_lane = _RecordLane(job, csq, result.sources)
    # The columnar lane needs only the records' text, which a second process can read and
    # format while this one annotates; CSQ/ANN parsing needs cyvcf2's records here.
    if columnar is None:
        ahead = None
    _annotate_batches(ahead if ahead is not None
                      else _batches_here(job.vcf_path, reader, regions, _LARGE_BATCH if columnar else 256),
                      writer, table, result, variants_of, columnar, record_lane)
    # htslib declares tags it meets undeclared in the header of the reader that read them.
    return reader.raw_header if ahead is None else ahead.raw_header


_LARGE_BATCH = 16384  # records per batch the columnar lane reads; the per-record lane reads 256


class _Lines:
    """A batch of records' lines as htslib formats them. The columnar lane reads them as one
    UTF-8 text (`data`); the per-record lane one line at a time. Sent through a pipe they go as
    that text and where each line ends in it: one bytes object costs a copy, where a list of
    lines costs an object each."""

    def __init__(self, texts: list[str]) -> None:
        self._texts: list[str] | None = texts
        self._data: bytes | None = None
        self._ends: np.ndarray | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            assert self._texts is not None
            self._data = "".join(self._texts).encode()
        return self._data

    def __getstate__(self) -> tuple[bytes, np.ndarray]:
        return self.data, self._line_ends()

    def __setstate__(self, state: tuple[bytes, np.ndarray]) -> None:
        self._texts, (self._data, self._ends) = None, state

    def _line_ends(self) -> np.ndarray:
        if self._ends is None:
            assert self._texts is not None
            texts = self._texts
            sizes = ([len(text) for text in texts] if len(self.data) == sum(map(len, texts))
                     else [len(text.encode()) for text in texts])
            self._ends = np.cumsum(sizes, dtype=np.int64)
        return self._ends

    def __len__(self) -> int:
        return len(self._texts) if self._texts is not None else len(self._line_ends())

    def __getitem__(self, i: int) -> str:
        if self._texts is not None:
            return self._texts[i]
        ends = self._line_ends()
        return self.data[ends[i - 1] if i else 0:ends[i]].decode()


def _batches_here(vcf_path: str, reader: Any, regions: list[str] | None,
                  batch_size: int) -> Iterator[tuple[list[Any] | None, _Lines]]:
    """Batches of records read in this process, with their text."""
    from pgx.vcf import checked_records, region_records

    records = (checked_records(reader, vcf_path) if regions is None
               else region_records(reader, vcf_path, regions))
    while pairs := list(itertools.islice(records, batch_size)):
        yield [record for record, _ in pairs], _Lines([text for _, text in pairs])


class _ReadAhead:
    """The batches of a whole file's record text, read and formatted by htslib in a forked
    process ahead of the annotating: reading is about a third of the work of a pass. Started
    before the transcript models load, so that the first batches wait ready. The same process
    compresses the annotated VCF (`blocks`, for the writer): with it the two processes share the
    work about evenly, where compressing here left this one the longer by a second per million
    records.

    The child uses only cyvcf2 (never Polars, whose threads do not survive a fork) and sends
    each batch's `_Lines`; a bad record is sent as its error, raised here in turn."""

    def __init__(self, vcf_path: str, undeclared: dict[str, tuple[str, ...]], kb_label: str,
                 batch_size: int) -> None:
        import multiprocessing
        import socket

        from pgx.outputs import BlocksToProcess

        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        here, there = socket.socketpair()
        self._process = context.Process(target=_read_ahead_child,
                                        args=(vcf_path, undeclared, kb_label, batch_size, sender, there),
                                        daemon=True)
        self._process.start()
        sender.close()
        there.close()
        self._blocks_socket = here
        self.blocks = BlocksToProcess(here)  # the VCF.gz's compression, done in the same process
        self.raw_header = ""

    def __iter__(self) -> Iterator[tuple[list[Any] | None, _Lines]]:
        while True:
            message = self._receiver.recv()
            if isinstance(message, _Lines):
                yield None, message
                continue
            kind, payload = message
            if kind == "end":
                self.raw_header = payload
                return
            raise payload

    def close(self) -> None:
        """Stop the reading (again: a no-op)."""
        self._receiver.close()
        self._blocks_socket.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()


_BATCHES_AHEAD = 16  # read but not yet taken: about 20 MB of text at most


def _read_ahead_child(vcf_path: str, undeclared: dict[str, tuple[str, ...]], kb_label: str, batch_size: int,
                      sender: Any, blocks: Any) -> None:
    """Reads into a bounded queue that a thread sends from: a pipe holds less than one batch,
    so without it reading would stop while the annotating process starts up or is busy.
    Another thread compresses the annotated VCF's blocks (`blocks`, a socket) until the
    annotating process finishes its writer."""
    import queue
    import threading

    from pgx.outputs import compress_blocks_from

    compressing = threading.Thread(target=compress_blocks_from, args=(blocks,), daemon=True)
    compressing.start()
    waiting: queue.Queue[Any] = queue.Queue(maxsize=_BATCHES_AHEAD)

    def send_all() -> None:
        while (message := waiting.get()) is not None:
            sender.send(message)

    sending = threading.Thread(target=send_all, daemon=True)
    sending.start()
    try:
        reader = _reader_with_our_header(vcf_path, undeclared, kb_label)
        for _, lines in _batches_here(vcf_path, reader, None, batch_size):
            waiting.put(lines)
        waiting.put(("end", reader.raw_header))
    except Exception as exc:
        waiting.put(("error", exc))
    finally:
        waiting.put(None)
        sending.join()
        sender.close()
        compressing.join()


def _annotate_batches(batches: Any, writer: Any, table: Any, result: _PassResult,
                      variants_of: Any, columnar: Any, record_lane: _RecordLane) -> None:
    from pgx.tabix import RecordSpans

    if columnar is not None:
        from pgx.columnar import joined

    contig = ""
    previous: tuple[str, int] | None = None
    for batch, texts in batches:
        fast = columnar.annotate(texts.data, len(texts), previous) if columnar is not None else None
        if fast is None:
            # Read a batch, then annotate and write it: each stage's code stays warm in the
            # CPU's caches, which saved about a fifth of the time against one at a time.
            split = [texts[i][:-1].split("\t") for i in range(len(texts))]
            spans = RecordSpans.of_columns(split)
            contig_starts = spans.runs[1:] if spans.contigs[0] == contig else spans.runs
            contig = spans.contigs[-1]
            previous = (contig, int(split[-1][1]))
            done = [record_lane(None if batch is None else batch[i], columns, variants_of(columns, int(columns[1])))
                    for i, columns in enumerate(split)]
            lines = [line for line, _ in done]
            result.index.add(spans, np.array(
                [len(line) if line.isascii() else len(line.encode()) for line in lines], dtype=np.int64))
            _write_batch(writer, lines, contig_starts)
            table.write("".join([rows for _, rows in done]).encode())
            continue
        previous, contig = fast.last, fast.last[0]
        counted = 0  # records up to here that the variant reader has numbered
        done = []
        for i in fast.others:
            if i > counted:
                variants_of.skipped(i - counted)
            counted = i + 1
            columns = texts[i][:-1].split("\t")
            done.append(record_lane(None if batch is None else batch[i], columns, variants_of(columns, int(columns[1]))))
        if counted < len(texts):
            variants_of.skipped(len(texts) - counted)
        taken = len(texts) - len(fast.others)
        variants_of.kept_elsewhere(taken, columnar.DEPTH_SOURCE)
        if taken:
            result.sources[columnar.ANNOTATION_SOURCE] = result.sources.get(columnar.ANNOTATION_SOURCE, 0) + taken
        lines, rows = fast.lines, fast.rows
        if done:
            lines = lines.scatter(fast.others, [line for line, _ in done])
            rows = rows.scatter(fast.others, [rows for _, rows in done])
        result.index.add(fast.spans, lines.str.len_bytes().to_numpy())
        _write_batch(writer, lines, contig_starts=fast.contig_starts)
        table.write(joined(rows))


def _write_batch(writer: Any, lines: Any, contig_starts: list[int]) -> None:
    """The lines (a list, or a Polars column from the columnar lane), with a BGZF block ending
    before each contig's first record."""
    if not isinstance(lines, list):
        from pgx.columnar import joined
    cuts = [0, *contig_starts, len(lines)]
    for n, (start, end) in enumerate(zip(cuts, cuts[1:], strict=False)):
        if n:
            writer.end_block()
        if start < end:
            part = lines[start:end]
            writer.write("".join(part) if isinstance(part, list) else joined(part))


def _columnar_lane(job: _AnnotateJob, csq: CsqParser, sample: int | None, genome: Genome | None) -> Any:
    """The columnar lane where it applies: built-in annotation on GRCh38 models (no CSQ/ANN to
    read, no liftover) of a sample column; with a genome, it checks the REF of what it takes."""
    if not job.columnar or csq.present or sample is None or not isinstance(job.builtin, BuiltinAnnotator):
        return None
    from pgx.columnar import ColumnarLane

    return ColumnarLane(job.builtin.index, sample=sample, filters=job.filters, info_value=_info_value,
                        info_template=_INFO_TEMPLATE, intergenic_cells=_INTERGENIC_CELLS, genome=genome)


class _RecordLane:
    """One record's VCF line and table rows, computed in Python: any record the columnar lane
    does not take."""

    def __init__(self, job: _AnnotateJob, csq: CsqParser, sources: dict[str, int]) -> None:
        self.csq = csq
        self.builtin = job.builtin
        self.preferred = job.preferred
        self.sources = sources
        self.info_value = _InfoValues()

    def __call__(self, record: Any, columns: list[str], variants: list[Variant]) -> tuple[str, str]:
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
                annotation = csq.annotate(record, variant, raw_alt, self.preferred) if csq.present else None
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
    for record, text in records:
        columns = text[:-1].split("\t")
        annotated: dict[tuple[int, str, str], Annotation | None] = {}
        for variants_of in readers:
            sample = names[variants_of.sample] if variants_of.sample is not None else ""
            for variant in variants_of(columns, record.POS):
                key = (variant.pos, variant.ref, variant.alt)
                if key not in annotated:
                    annotated[key] = _in_genes(variant, record, genes, index, lift, csq, builtin, preferred)
                annotation = annotated[key]
                if annotation is not None:
                    rows.append({"sample": sample, **_variant_row(variant, annotation, record.ID)})
    return rows


def _in_genes(variant: Variant, record: Any, genes: set[str], index: TranscriptIndex, lift: Any, csq: CsqParser,
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
    annotation = csq.annotate(record, variant, record.ALT[variant.alt_index], preferred) if csq.present else None
    if annotation is None:
        annotation = builtin.annotate(variant)
    return annotation if annotation.gene in genes else None
