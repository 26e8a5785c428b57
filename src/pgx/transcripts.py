"""Transcript models (GRCh38 MANE Select) and the coordinate arithmetic of the built-in annotator.

Our own compact index: one row per transcript with exon and CDS coordinates (0-based starts,
half-open ends, CDS including the stop codon), plus a table of codons whose reference bases are
known without a FASTA. No sequence is stored: where a codon's bases are unknown, the protein
change is unknown, never guessed.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pgx.outputs import read_tsv
from pgx.vcf import bare_contig

TRANSCRIPT_COLUMNS = [
    "gene", "transcript", "refseq", "protein", "chrom", "strand",
    "tx_start", "tx_end", "cds_start", "cds_end", "exon_starts", "exon_ends",
]
CODON_COLUMNS = ["gene", "transcript", "codon", "ref_codon", "amino_acid", "source"]

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")

CODON_TABLE: dict[str, str] = {}
_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
for _i, _a in enumerate(_BASES):
    for _j, _b in enumerate(_BASES):
        for _k, _c in enumerate(_BASES):
            CODON_TABLE[_a + _b + _c] = _AMINO[16 * _i + 4 * _j + _k]

THREE_LETTER = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
}
ONE_LETTER = {three: one for one, three in THREE_LETTER.items()}


def reverse_complement(seq: str) -> str:
    return seq.upper().translate(_COMPLEMENT)[::-1]


class CodingPosition(NamedTuple):
    """Where a genomic base sits on a transcript."""

    region: str  # cds, utr5, utr3, intron
    hgvs: str  # the c. coordinate text, e.g. '1799', '-14', '*3', '1798+2'
    cds: int | None  # 1-based CDS position for coding bases
    exon: int | None
    intron: int | None
    splice_distance: int | None  # intron only: bases to the nearest exon
    splice_side: str | None  # donor (after an exon) or acceptor (before one)


@dataclass(frozen=True)
class Transcript:
    gene: str
    transcript: str
    refseq: str
    protein: str
    chrom: str
    strand: str
    tx_start: int
    tx_end: int
    cds_start: int
    cds_end: int
    exons: tuple[tuple[int, int], ...]  # genomic order

    def __post_init__(self) -> None:
        # Derived once: locate() runs for every variant inside a transcript of a whole genome.
        ordered = self.exons if self.strand == "+" else tuple(reversed(self.exons))
        sums = [0]
        for start, end in ordered:
            sums.append(sums[-1] + end - start)
        object.__setattr__(self, "exons_in_order", ordered)
        object.__setattr__(self, "_cumulative", tuple(sums))
        object.__setattr__(self, "_starts", [start for start, _ in self.exons])
        first = self.cds_start + 1 if self.strand == "+" else self.cds_end
        last = self.cds_end if self.strand == "+" else self.cds_start + 1
        a, b = self._n_of(first), self._n_of(last)
        assert a is not None and b is not None, self.transcript
        object.__setattr__(self, "_cds_n", (a[0], b[0]))

    exons_in_order: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    _cumulative: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _starts: list[int] = field(init=False, repr=False, compare=False)
    _cds_n: tuple[int, int] = field(init=False, repr=False, compare=False)

    @property
    def coding_bounds(self) -> tuple[int, int]:
        """Transcript (n.) positions of the first and last coding base."""
        return self._cds_n

    def _exon_at(self, g: int) -> int:
        """Index (genomic order) of the last exon starting before genomic 1-based g, or -1."""
        return bisect.bisect_left(self._starts, g) - 1

    def _n_of(self, g: int) -> tuple[int, int] | None:
        """Transcript (n.) position of genomic 1-based g and its exon number, if exonic."""
        k = self._exon_at(g)
        if k < 0:
            return None
        start, end = self.exons[k]
        if g > end:
            return None
        n_exons = len(self.exons)
        order = k if self.strand == "+" else n_exons - 1 - k
        offset = (g - 1 - start) if self.strand == "+" else (end - g)
        return self._cumulative[order] + offset + 1, order + 1

    def _c_text(self, n: int) -> tuple[str, str, int | None]:
        first, last = self._cds_n
        if n < first:
            return f"-{first - n}", "utr5", None
        if n > last:
            return f"*{n - last}", "utr3", None
        return str(n - first + 1), "cds", n - first + 1

    def locate(self, g: int) -> CodingPosition | None:
        """Position of genomic base g (1-based) on this transcript; None outside it."""
        if not (self.tx_start < g <= self.tx_end):
            return None
        hit = self._n_of(g)
        if hit is not None:
            n, exon = hit
            text, region, cds = self._c_text(n)
            return CodingPosition(region, text, cds, exon, None, None, None)
        # In the intron between exons k and k + 1 (genomic order).
        k = self._exon_at(g)
        if k < 0 or k + 1 >= len(self.exons):
            return None
        left_end, right_start = self.exons[k][1], self.exons[k + 1][0]
        if self.strand == "+":
            intron = k + 1
            d_up, d_down = g - left_end, right_start + 1 - g
            up_g, down_g = left_end, right_start + 1
        else:
            intron = len(self.exons) - 1 - k
            d_up, d_down = right_start + 1 - g, g - left_end
            up_g, down_g = right_start + 1, left_end
        if d_up <= d_down:
            anchor = self._n_of(up_g)
            assert anchor is not None
            text = f"{self._c_text(anchor[0])[0]}+{d_up}"
            return CodingPosition("intron", text, None, None, intron, d_up, "donor")
        anchor = self._n_of(down_g)
        assert anchor is not None
        text = f"{self._c_text(anchor[0])[0]}-{d_down}"
        return CodingPosition("intron", text, None, None, intron, d_down, "acceptor")

    def genomic_of_cds(self, cds: int) -> int | None:
        """Genomic 1-based position of CDS base `cds` (1-based)."""
        first, _ = self._cds_n
        n = first + cds - 1
        for k, (start, end) in enumerate(self.exons_in_order):
            if self._cumulative[k] < n <= self._cumulative[k + 1]:
                offset = n - self._cumulative[k] - 1
                return start + offset + 1 if self.strand == "+" else end - offset
        return None


class TranscriptIndex:
    """All transcripts of one build, with overlap queries by position.

    Held as columns (`columns`, sorted by contig, start and ID, contigs bare): a transcript's
    `Transcript`, with its exon arithmetic, is made the first time it is asked for. The
    columnar lane reads the columns of all of them at once; the per-record lane meets a few;
    making all 19,035 up front took most of half a second on every run."""

    def __init__(self, columns: dict[str, list[str]], codons: dict[tuple[str, int], str]):
        chroms = [bare_contig(c) for c in columns["chrom"]]
        starts = [int(x) for x in columns["tx_start"]]
        order = sorted(range(len(chroms)), key=lambda i: (chroms[i], starts[i], columns["transcript"][i]))
        self.columns = {name: [values[i] for i in order] for name, values in columns.items() if name != "chrom"}
        self.columns["chrom"] = [chroms[i] for i in order]
        self.tx_start = [starts[i] for i in order]
        self.tx_end = [int(x) for x in self.columns["tx_end"]]
        self._transcripts: list[Transcript | None] = [None] * len(order)
        self._rows: dict[str, range] = {}
        first = 0
        for contig, run in itertools.groupby(self.columns["chrom"]):
            end = first + sum(1 for _ in run)
            self._rows[contig] = range(first, end)
            first = end
        self._max_span = {c: max(self.tx_end[i] - self.tx_start[i] for i in rows) for c, rows in self._rows.items()}
        row_of = [0] * len(order)
        for row, read in enumerate(order):
            row_of[read] = row
        # A gene's transcript: its last in the file (MANE Select has one per gene).
        self._gene_rows = {gene: row_of[read] for read, gene in enumerate(columns["gene"])}
        self.codons = codons
        self._known_codons: dict[str, list[int]] = {}
        for transcript, codon in sorted(codons):
            self._known_codons.setdefault(transcript, []).append(codon)
        # Where any transcript lies (merged spans, 0-based starts): most of a genome is outside
        # every transcript, and this answers that with one bisection.
        self._covered: dict[str, tuple[list[int], list[int]]] = {}
        for c, rows in self._rows.items():
            merged_starts: list[int] = []
            merged_ends: list[int] = []
            for i in rows:
                if merged_starts and self.tx_start[i] <= merged_ends[-1]:
                    merged_ends[-1] = max(merged_ends[-1], self.tx_end[i])
                else:
                    merged_starts.append(self.tx_start[i])
                    merged_ends.append(self.tx_end[i])
            self._covered[c] = (merged_starts, merged_ends)
            self._covered["chr" + c] = (merged_starts, merged_ends)

    def __len__(self) -> int:
        return len(self._transcripts)

    def transcript(self, row: int) -> Transcript:
        """The transcript of a row of `columns`."""
        made = self._transcripts[row]
        if made is None:
            made = self._transcripts[row] = _transcript_from_row({name: values[row] for name, values in self.columns.items()})
        return made

    def overlapping(self, chrom: str, start: int, end: int) -> list[Transcript]:
        """Transcripts overlapping genomic 1-based [start, end]."""
        covered = self._covered.get(chrom)
        if covered is None:
            covered = self._covered.get(bare_contig(chrom))
            if covered is None:
                return []
        i = bisect.bisect_left(covered[0], end) - 1
        if i < 0 or covered[1][i] < start:
            return []
        chrom = bare_contig(chrom)
        rows = self._rows[chrom]
        lo = bisect.bisect_left(self.tx_start, start - self._max_span[chrom] - 1, rows.start, rows.stop)
        hi = bisect.bisect_right(self.tx_start, end, rows.start, rows.stop)
        return [self.transcript(i) for i in range(lo, hi) if self.tx_start[i] < end and self.tx_end[i] >= start]

    def of_gene(self, gene: str) -> Transcript | None:
        row = self._gene_rows.get(gene)
        return None if row is None else self.transcript(row)

    def known_codons(self, transcript: str) -> list[int]:
        """The codons of `transcript` whose reference bases are known without a FASTA."""
        return self._known_codons.get(transcript, [])

    def contigs(self) -> list[str]:
        """The contigs with transcripts, bare ('7'), in the order of `columns`."""
        return list(self._rows)

    def rows_on_contig(self, chrom: str) -> range:
        """The rows of `columns` on a contig ('chr7' or '7')."""
        return self._rows.get(bare_contig(chrom), range(0))

    def on_contig(self, chrom: str) -> list[Transcript]:
        """The transcripts of a contig ('chr7' or '7'), by start."""
        return [self.transcript(i) for i in self.rows_on_contig(chrom)]

    @classmethod
    def load(cls, directory: str | Path) -> TranscriptIndex:
        return _load_index(str(Path(directory).resolve()))

    @classmethod
    def _read(cls, directory: str | Path) -> TranscriptIndex:
        directory = Path(directory)
        rows = read_tsv(directory / "transcripts.GRCh38.tsv.gz")
        columns = {name: [row[name] for row in rows] for name in TRANSCRIPT_COLUMNS}
        codons = {
            (r["transcript"], int(r["codon"])): r["ref_codon"]
            for r in read_tsv(directory / "codons.GRCh38.tsv")
        }
        return cls(columns, codons)


@functools.lru_cache(maxsize=2)
def _load_index(directory: str) -> TranscriptIndex:
    """Loaded once per process: the index is read-only and takes ~0.5 s to build, a fifth
    less with the cycle collector paused (its ~600,000 objects form no cycles)."""
    with no_cycle_collection():
        return TranscriptIndex._read(directory)


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused, for code that makes many objects and no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _transcript_from_row(row: dict[str, Any]) -> Transcript:
    starts = [int(x) for x in row["exon_starts"].split(",") if x]
    ends = [int(x) for x in row["exon_ends"].split(",") if x]
    return Transcript(
        gene=row["gene"],
        transcript=row["transcript"],
        refseq=row["refseq"],
        protein=row["protein"],
        chrom=bare_contig(row["chrom"]),
        strand=row["strand"],
        tx_start=int(row["tx_start"]),
        tx_end=int(row["tx_end"]),
        cds_start=int(row["cds_start"]),
        cds_end=int(row["cds_end"]),
        exons=tuple(zip(starts, ends, strict=True)),
    )
