"""Annotate's columnar lane: the records most of a genome consists of, a batch at a time.

A record qualifies when it is one single-base substitution (upper-case A/C/G/T), its tumor
sample has integer FORMAT/AD for REF and ALT (with a non-zero sum), it passes every filter,
no neighbouring record shares its position, and it lies where exactly one MANE Select
transcript or none does: between transcripts, more than 8 bases inside an intron, or in an
exon (UTR, or coding where the codon's bases are unknown: no reference FASTA and not a
hotspot codon with known bases, so that the protein change is unknown). For those, this lane
computes the same VCF line and table row as the per-record lane in `pgx.annotate`, column by
column with Polars instead of record by record in Python; every other record goes through the
per-record lane. Tests hold the two lanes to identical bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import polars as pl

from pgx.annotate import UNKNOWN_CODON_NOTE
from pgx.transcripts import TranscriptIndex
from pgx.vcf import NOT_REFERENCE_GENOTYPES, Filters, bare_contig

if TYPE_CHECKING:
    from pgx.genome import Genome

INTERGENIC, INTRON, OTHER, EXON = 0, 1, 2, 3
_BASES = ["A", "C", "G", "T"]
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}
# An intron base this far or further from both exons is an intron_variant, nothing more
# (nearer ones are splice_region/donor/acceptor, left to the per-record lane).
_DEEP = 9
_BLOCK_BITS = 16  # genome bases read in blocks of 64 kb
_MAX_LAYOUTS = 4  # FORMAT strings handled per batch; files rarely have more than two
# One row per deep intron stretch or exon of the contig's transcripts. Introns: c. anchors of
# the exon bases on either side. Exons: n. position = n_at_zero + POS (plus strand) or
# n_at_zero - POS (minus), then c. from the coding bounds as `Transcript.locate` does.
_FEATURE_SCHEMA = {"gene": pl.String, "transcript": pl.String, "refseq": pl.String, "gene_info": pl.String,
                   "transcript_info": pl.String, "minus": pl.Boolean, "number": pl.Int64,
                   "last_exon_base": pl.Int64, "next_exon_base": pl.Int64, "up": pl.String, "down": pl.String,
                   "n_at_zero": pl.Int64, "cds_first": pl.Int64, "cds_last": pl.Int64}
# The feature columns that decide whether a record qualifies, taken for every record; the
# others only for the records written inside a transcript.
_QUALIFYING_FEATURES = ["minus", "n_at_zero", "cds_first", "cds_last"]
# What a kind of place writes: columns computed first, INFO values from PGX_GENE to PGX_HGVSC,
# and table cells from gene to annotation_note; a piece is a text or a column.
_Written = tuple[dict[str, pl.Expr], list[str | pl.Expr], list[str | pl.Expr]]


class _Segments(NamedTuple):
    """A contig cut where transcripts, exons, deep intron stretches and known codons start and end."""

    starts: np.ndarray  # 1-based first position of each segment, ascending
    kind: np.ndarray  # INTERGENIC, INTRON, EXON or OTHER
    feature: np.ndarray  # row of the feature table (INTRON and EXON segments), else 0


class ColumnarBatch(NamedTuple):
    lines: pl.Series  # the VCF line of each record this lane wrote, else null
    rows: pl.Series  # its table row, else null
    others: list[int]  # the records left to the per-record lane
    last: tuple[str, int]  # the batch's last (CHROM, POS)


class ColumnarLane:
    """Built once per pass; `annotate` takes a batch of records as htslib formats them."""

    DEPTH_SOURCE = "FORMAT/AD"  # what every record this lane takes reads depth and VAF from
    ANNOTATION_SOURCE = "builtin"

    def __init__(self, index: TranscriptIndex, *, sample: int, filters: Filters,
                 info_value: Callable[[str | None], str], info_template: str, intergenic_cells: str,
                 genome: Genome | None = None) -> None:
        """With a reference `genome`, a record qualifies only where the genome has its REF
        (a mismatch, or a contig the genome lacks, goes to the per-record lane, which refuses
        or counts it), and coding records go to the per-record lane for their protein change."""
        self.index = index
        self.genome = genome
        self.sample = sample
        self.filters = filters
        self._info_value = info_value
        self._info_pieces = info_template.split("{}")
        self._intergenic_cells = intergenic_cells

    def annotate(self, data: bytes, count: int, previous: tuple[str, int] | None) -> ColumnarBatch | None:
        """The lines and rows of a batch of `count` records, `data` their UTF-8 text as htslib
        formats it; None when that cannot be read as one table."""
        columns = data[:data.index(b"\n")].count(b"\t") + 1
        if columns < 10 + self.sample:
            return None
        names = [f"c{i}" for i in range(columns)]
        try:
            frame = pl.read_csv(data, separator="\t", has_header=False,
                                new_columns=names, schema=dict.fromkeys(names, pl.String),
                                quote_char=None)
        except pl.exceptions.PolarsError:
            return None
        # An empty field (htslib lets a few through, e.g. an empty CHROM) reads as null: leave
        # such a batch to the per-record lane.
        if frame.height != count or any(frame.null_count().row(0)):
            return None
        chroms = frame["c0"]
        positions = frame["c1"].cast(pl.Int64, strict=False)
        if positions.null_count():
            return None
        runs = (chroms != chroms.shift(1)).fill_null(True).arg_true().to_list()
        kind, feature = self._locate(chroms, positions.to_numpy(), runs)
        frame = pl.concat([frame.with_columns(pos=positions, kind=pl.Series(kind, dtype=pl.Int8),
                                              feature=pl.Series(feature),
                                              genome_base=self._genome_bases(chroms, positions.to_numpy(), runs)),
                           self._feature_table.select(_QUALIFYING_FEATURES)[feature]], how="horizontal")
        frame = self._qualified(frame, previous)
        others = (~frame["eligible"]).arg_true().to_list()
        if len(others) == count:
            nothing = pl.Series([None] * count, dtype=pl.String)
            return ColumnarBatch(nothing, nothing.clone(), others, (chroms[-1], int(positions[-1])))
        # Only what the writing reads: filtering copies every column kept.
        needed = [*names, "pos", "kind", "feature", "n", "fourths", "depth", "filter_value", "genotype", "eligible",
                  *_QUALIFYING_FEATURES]
        out = self._written(frame.with_row_index("i").select(["i", *needed]), names)
        lines = pl.Series([None] * count, dtype=pl.String).scatter(out["i"], out["line"])
        rows = pl.Series([None] * count, dtype=pl.String).scatter(out["i"], out["row"])
        return ColumnarBatch(lines, rows, others, (chroms[-1], int(positions[-1])))

    def _genome_bases(self, chroms: pl.Series, positions: np.ndarray, runs: list[int]) -> pl.Series:
        """The genome's base at each position ('' without a genome or where it lacks the contig),
        read in 64 kb blocks: one read per block that holds records, not one per record."""
        bases = np.full(len(positions), b"", dtype="S1")
        if self.genome is not None:
            bounds = [*runs, len(positions)]
            for a, b in zip(bounds, bounds[1:], strict=False):
                chrom = chroms[a]
                if self.genome.contig(chrom) is None:
                    continue
                at = positions[a:b] - 1
                order = np.argsort(at >> _BLOCK_BITS, kind="stable")
                blocks = (at >> _BLOCK_BITS)[order]
                cuts = [0, *(np.flatnonzero(np.diff(blocks)) + 1).tolist(), len(blocks)]
                for first, last in zip(cuts, cuts[1:], strict=False):
                    block = int(blocks[first])
                    if block < 0:  # POS 0: no base to compare
                        continue
                    text = self.genome.fetch(chrom, block << _BLOCK_BITS, (block + 1) << _BLOCK_BITS).encode()
                    block_bases = np.frombuffer(text + b"\0", dtype="S1")
                    rows = order[first:last]
                    offsets = np.minimum(at[rows] - (block << _BLOCK_BITS), len(text))
                    bases[a + rows] = block_bases[offsets]
        return pl.Series(bases.astype(str), dtype=pl.String)

    @property
    def _feature_table(self) -> pl.DataFrame:
        return _features(self.index, self._info_value).table

    def _locate(self, chroms: pl.Series, positions: np.ndarray, runs: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Segment kind and feature table row of each position; `runs` start each stretch of
        one contig."""
        kind = np.empty(len(positions), dtype=np.int8)
        feature = np.empty(len(positions), dtype=np.int64)
        bounds = [*runs, len(positions)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            segments = _segments(self.index, bare_contig(chroms[a]), self._info_value)
            at = np.searchsorted(segments.starts, positions[a:b], side="right") - 1
            inside = at >= 0
            at = np.maximum(at, 0)
            kind[a:b] = np.where(inside, segments.kind[at], INTERGENIC)
            feature[a:b] = np.where(inside, segments.feature[at], 0)
        return kind, feature

    def _qualified(self, frame: pl.DataFrame, previous: tuple[str, int] | None) -> pl.DataFrame:
        """The sample's fields, depth and allele fraction, and whether each record qualifies."""
        col = pl.col
        sample = f"c{9 + self.sample}"
        layouts = frame["c8"].value_counts(sort=True)["c8"].to_list()[:_MAX_LAYOUTS]

        def field(key: str) -> pl.Expr:
            chosen = pl.lit(None, dtype=pl.String)
            for layout in layouts:
                keys = layout.split(":") if layout is not None else []
                if key in keys:
                    chosen = pl.when(col("c8") == layout).then(
                        col("values").list.get(keys.index(key), null_on_oob=True)).otherwise(chosen)
            return chosen

        frame = frame.with_columns(values=col(sample).str.split(":"))
        frame = frame.with_columns(genotype=field("GT"), allele_depths=field("AD"), dp_text=field("DP"))
        depths, comma = col("allele_depths"), col("allele_depths").str.find(",", literal=True)
        frame = frame.with_columns(
            ref_count=_count(depths.str.slice(0, comma)), alt_count=_count(depths.str.slice(comma + 1)),
            comma=comma, dp=_count(col("dp_text")),
            filter_value=pl.when(col("c6") == ".").then(pl.lit("PASS")).otherwise(col("c6")),
        )
        exonic = col("kind") == EXON
        coding = (exonic & (col("n") >= col("cds_first")) & (col("n") <= col("cds_last"))).fill_null(False)
        frame = frame.with_columns(
            total=col("ref_count") + col("alt_count"),
            n=pl.when(exonic).then(pl.when(col("minus")).then(col("n_at_zero") - col("pos"))
                                   .otherwise(col("n_at_zero") + col("pos"))))
        # The allele fraction to 4 decimals from the integer counts: equal to formatting the
        # float except on an exact tie, which goes to the per-record lane.
        scaled = col("alt_count") * 10000
        frame = frame.with_columns(
            depth=pl.when(col("dp").is_not_null() & (col("dp") >= col("total"))).then(col("dp")).otherwise(col("total")),
            fourths=scaled // col("total") + ((scaled % col("total")) * 2 > col("total")).cast(pl.Int64),
            tie=(scaled % col("total")) * 2 == col("total"),
        )
        chrom, pos, ref, alt = col("c0"), col("pos"), col("c3"), col("c4")
        same_as_before = ((chrom == chrom.shift(1, fill_value=previous[0] if previous else None))
                          & (pos == pos.shift(1, fill_value=previous[1] if previous else None))).fill_null(False)
        same_as_next = ((chrom == chrom.shift(-1)) & (pos == pos.shift(-1))).fill_null(True)
        genotype, dp_text = col("genotype"), col("dp_text")
        eligible = (
            ref.is_in(_BASES) & alt.is_in(_BASES) & (ref != alt)
            # POS as htslib writes it (the line comes as written; '0100' goes to the other lane)
            & (col("c1") == pos.cast(pl.String))
            # AD: two counts, one comma (a second one would be in the ALT count's text)
            & col("comma").is_not_null() & col("ref_count").is_not_null() & col("alt_count").is_not_null()
            & (col("total") > 0) & ~col("tie")
            # DP: a count, or text that no count reads (then ignored); a count too large for
            # _count is left to the per-record lane
            & (dp_text.is_null() | col("dp").is_not_null() | (dp_text.str.len_bytes() < _COUNT_DIGITS))
            & (genotype.is_null() | genotype.is_in(sorted(NOT_REFERENCE_GENOTYPES)))
            & ~same_as_before & ~same_as_next
            & (col("kind") != OTHER)
        )
        if self.genome is not None:
            genome_base = col("genome_base")
            eligible = eligible & ~coding & ((genome_base == ref) | (genome_base == "N"))
        filters = self.filters
        if filters.require_pass:
            eligible = eligible & (col("filter_value") == "PASS")
        if filters.min_depth:
            eligible = eligible & (col("depth") >= filters.min_depth)
        if filters.min_vaf:
            eligible = eligible & ((col("alt_count") / col("total")) >= filters.min_vaf)
        return frame.with_columns(eligible=eligible.fill_null(False))

    def _written(self, frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
        """The VCF line and table row of each eligible record, with its row `i`.

        Each kind of place is written from its own rows: Polars computes every branch of a
        `when` for every row, and most rows (between genes) need none of the HGVS text."""
        col = pl.col
        ref, alt, minus, n = col("c3"), col("c4"), col("minus"), col("n")
        first = col("cds_first")
        info_value = self._info_value
        fourths = col("fourths")  # 0 to 10,000: a fraction of reads
        frame = frame.with_columns(
            vaf4=pl.when(fourths < 10000).then(pl.concat_str([pl.lit("0."), (fourths + 10000).cast(pl.String).str.slice(1)]))
            .otherwise(pl.lit("1.0000")),
            depth_text=col("depth").cast(pl.String),
            info_head=pl.when(col("c7") == ".").then(pl.lit("")).otherwise(pl.concat_str([col("c7"), pl.lit(";")])),
            id_cell=_inert(pl.when(col("c2") == ".").then(pl.lit("")).otherwise(col("c2")), frame["c2"]),
            filter_cell=_inert(col("filter_value"), frame["c6"]),
            chrom_cell=_inert(col("c0"), frame["c0"]),
            bare=col("c0").replace({c: bare_contig(c) for c in frame["c0"].unique().to_list()}),
        ).with_columns(vaf=col("vaf4").str.strip_chars_end("0").str.strip_chars_end("."))
        changed: list[str | pl.Expr] = [pl.when(minus).then(ref.replace(_COMPLEMENT)).otherwise(ref), ">",
                                        pl.when(minus).then(alt.replace(_COMPLEMENT)).otherwise(alt)]
        from_up = pl.when(minus).then(col("next_exon_base") - col("pos")).otherwise(col("pos") - col("last_exon_base"))
        from_down = pl.when(minus).then(col("pos") - col("last_exon_base")).otherwise(col("next_exon_base") - col("pos"))
        upstream = from_up <= from_down
        intron_hgvsc = _concatenated([
            "c.", pl.when(upstream).then(col("up")).otherwise(col("down")),
            pl.when(upstream).then(pl.lit("+")).otherwise(pl.lit("-")),
            pl.when(upstream).then(from_up).otherwise(from_down).cast(pl.String), *changed])
        exon_hgvsc = _concatenated(["c.", _c_number(n), *changed])
        codon = ((n - first) // 3 + 1).cast(pl.String)
        number = col("number").cast(pl.String)

        def in_gene(consequence: str, hgvsc: pl.Expr, protein: list[str | pl.Expr], exon: str | pl.Expr,
                    intron: str | pl.Expr, note: str) -> _Written:
            """Columns to compute first; INFO values from gene to HGVSc; table cells from gene to
            annotation_note (as `_annotation_cells`)."""
            return ({"hgvsc": hgvsc, "protein": _concatenated(_tab_joined(protein))} if protein else {"hgvsc": hgvsc},
                    [col("gene_info"), col("transcript_info"), info_value(consequence), col("hgvsc")],
                    _tab_joined([col("gene"), col("transcript"), col("refseq"), consequence, col("hgvsc"), "",
                                 col("protein") if protein else "\t" * 5, exon, intron, self.ANNOTATION_SOURCE, note]))

        places: dict[str, tuple[pl.Expr, _Written]] = {  # rows of each kind of place, and what they write
            "intergenic": (col("kind") == INTERGENIC, ({}, [".", ".", info_value("intergenic_variant"), "."],
                                                       [self._intergenic_cells])),
            "intron": (col("kind") == INTRON, in_gene("intron_variant", intron_hgvsc, [], "", number, "")),
            "utr5": (col("region") == "utr5", in_gene("5_prime_UTR_variant", exon_hgvsc, [], number, "", "")),
            "utr3": (col("region") == "utr3", in_gene("3_prime_UTR_variant", exon_hgvsc, [], number, "", "")),
            "coding": (col("region") == "cds", in_gene(
                "coding_sequence_variant", exon_hgvsc,
                [_concatenated(["codon ", codon]), "", codon, codon, "", "unknown"], number, "", UNKNOWN_CODON_NOTE)),
        }
        last = col("cds_last")
        frame = frame.with_columns(region=pl.when(col("kind") == EXON).then(
            pl.when(n < first).then(pl.lit("utr5")).when(n > last).then(pl.lit("utr3")).otherwise(pl.lit("cds"))))
        row_head = _tab_joined([col("chrom_cell"), col("c1"), col("id_cell"), ref, alt,
                                _concatenated([col("bare"), "_", col("c1"), "_", ref, "_", alt]), "SNV",
                                col("filter_cell"), col("depth_text"), col("vaf"), self.DEPTH_SOURCE,
                                col("genotype").fill_null(""), ""])
        written = []
        for rows_here, (first_columns, info_values, cells) in places.values():
            part = frame.filter(rows_here & col("eligible"))
            if not part.height:
                continue
            if first_columns:  # in a transcript: its intron or exon attributes
                part = pl.concat([part, self._feature_table.drop(_QUALIFYING_FEATURES)[part["feature"]]],
                                 how="horizontal").with_columns(**first_columns)
            values = [*info_values, ".", col("vaf4"), col("depth_text"), info_value(self.DEPTH_SOURCE),
                      info_value(self.ANNOTATION_SOURCE), "kept"]
            info: list[str | pl.Expr] = [col("info_head")]
            for text, value in zip(self._info_pieces, [*values, None], strict=True):
                info.append(text)
                if value is not None:
                    info.append(value)
            written.append(part.select(
                "i",
                line=_concatenated([*_tab_joined([*(col(name) for name in names[:7]), ""]), *info,
                                    *_tab_joined(["", *(col(name) for name in names[8:])]), "\n"]),
                row=_concatenated([*row_head, *cells, "\n"]),
            ))
        return pl.concat(written)


# A DP this long that `_count` cannot read may be a count above UInt32: the per-record lane
# reads it (shorter unreadable text is no count, and ignored as there).
_COUNT_DIGITS = 10


def _count(text: pl.Expr) -> pl.Expr:
    """A read count written in decimal digits only (no sign), as Int64; else null, as for
    counts above 4,294,967,295 (UInt32), which the per-record lane reads instead."""
    return pl.when(~text.str.starts_with("+")).then(text.cast(pl.UInt32, strict=False)).cast(pl.Int64)


def _c_number(n: pl.Expr) -> pl.Expr:
    """The c. number of transcript position `n` as `Transcript._c_text` writes it: '-14' before
    the coding bounds (columns cds_first, cds_last), '*3' after them, else the CDS position."""
    first, last = pl.col("cds_first"), pl.col("cds_last")
    return (pl.when(n < first).then(pl.concat_str([pl.lit("-"), (first - n).cast(pl.String)]))
            .when(n > last).then(pl.concat_str([pl.lit("*"), (n - last).cast(pl.String)]))
            .otherwise((n - first + 1).cast(pl.String)))


def _concatenated(pieces: list[str | pl.Expr]) -> pl.Expr:
    """One text column of texts and columns, in order; adjacent texts merged, as Polars' cost
    grows with each piece."""
    merged: list[str | pl.Expr] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif not isinstance(piece, str) or piece:
            merged.append(piece)
    return pl.concat_str([pl.lit(piece) if isinstance(piece, str) else piece for piece in merged])


def _tab_joined(pieces: list[str | pl.Expr]) -> list[str | pl.Expr]:
    """The pieces with a tab between each two."""
    return [item for i, piece in enumerate(pieces) for item in ((piece,) if i == 0 else ("\t", piece))]


def joined(texts: pl.Series) -> bytes:
    """The texts one after another, as UTF-8 (nulls as nothing): written as they are, never
    decoded into Python text."""
    return texts.str.join("").cast(pl.Binary).item() or b""


class _Features(NamedTuple):
    """The feature table of a genome's transcripts (row 0: none; then deep intron stretches,
    then exons), and per contig its rows and where each starts and ends (1-based, ends
    exclusive): intron_rows, deep_first, deep_end, exon_rows, exon_start, exon_end."""

    table: pl.DataFrame
    on_contig: dict[str, dict[str, np.ndarray]]


class _Exons(NamedTuple):
    """Every exon of every transcript (rows of `TranscriptIndex.columns`), in genomic order
    within each: its transcript, k (its index), the transcript's exon count, the bases of exons
    0..k (through_k) and of all of them (total); and whether each transcript is on the minus
    strand."""

    tx: np.ndarray
    starts: np.ndarray  # 0-based
    ends: np.ndarray
    k: np.ndarray
    exon_count: np.ndarray
    through_k: np.ndarray
    total: np.ndarray
    minus: np.ndarray  # per transcript


def _exons(index: TranscriptIndex) -> _Exons:
    columns = index.columns
    counts = np.array([text.count(",") + 1 for text in columns["exon_starts"]], dtype=np.int64)
    # Read as one text: a list of 200,000 digit strings takes numpy ten times as long.
    starts = np.fromstring(",".join(columns["exon_starts"]), dtype=np.int64, sep=",")
    ends = np.fromstring(",".join(columns["exon_ends"]), dtype=np.int64, sep=",")
    if not len(starts) == len(ends) == counts.sum():  # fromstring stops at text it cannot read
        raise ValueError("exon coordinates of the transcript index are not lists of numbers")
    firsts = np.cumsum(counts) - counts
    through = np.cumsum(ends - starts)
    before = np.repeat(through[firsts] - (ends - starts)[firsts], counts)
    return _Exons(tx=np.repeat(np.arange(len(index)), counts), starts=starts, ends=ends,
                  k=np.arange(len(starts)) - np.repeat(firsts, counts), exon_count=np.repeat(counts, counts),
                  through_k=through - before, total=np.repeat(through[firsts + counts - 1], counts) - before,
                  minus=np.array([strand == "-" for strand in columns["strand"]]))


def coding_bounds(index: TranscriptIndex, exons: _Exons | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`Transcript.coding_bounds` of every transcript (rows of `index.columns`) at once."""
    exons = _exons(index) if exons is None else exons
    minus = exons.minus
    cds_start = np.array(index.columns["cds_start"], dtype=np.int64)
    cds_end = np.array(index.columns["cds_end"], dtype=np.int64)
    # The exon holding genomic base g is the transcript's last one starting before g.
    keys = (exons.tx << 32) + exons.starts
    transcripts = np.arange(len(index)) << 32

    def n_of(g: np.ndarray) -> np.ndarray:
        exon = np.searchsorted(keys, transcripts + g, side="left") - 1
        through_k, end = exons.through_k[exon], exons.ends[exon]
        n: np.ndarray = np.where(minus, exons.total[exon] - through_k + end + 1 - g, through_k - end + g)
        return n

    return n_of(np.where(minus, cds_end, cds_start + 1)), n_of(np.where(minus, cds_start + 1, cds_end))


@functools.lru_cache(maxsize=2)
def _features(index: TranscriptIndex, info: Callable[[str | None], str]) -> _Features:
    """Every transcript's deep intron stretches and exons. Intron c. anchors and exon n.
    offsets are computed as `Transcript.locate` does, for the whole genome at once: Polars'
    cost is mostly per call, and one call per contig took 0.4 s."""
    columns = index.columns
    exons_of = _exons(index)
    starts, ends, k, count = exons_of.starts, exons_of.ends, exons_of.k, exons_of.exon_count
    following = np.minimum(np.arange(len(starts)) + 1, len(starts) - 1)
    exons = pl.DataFrame({
        "tx": exons_of.tx, "start": starts, "end": ends, "k": k, "count": count,
        "through_k": exons_of.through_k, "total": exons_of.total,
        "next_exon_base": pl.Series(starts[following] + 1).scatter(np.flatnonzero(k == count - 1), None),
    })
    minus, (cds_first, cds_last) = exons_of.minus, coding_bounds(index, exons_of)
    info_of = {text: info(text) for text in {*columns["gene"], *columns["transcript"]}}
    per_tx = pl.DataFrame({
        "tx": np.arange(len(index)),
        "gene": columns["gene"],
        "transcript": columns["transcript"],
        "refseq": columns["refseq"],
        "gene_info": [info_of[gene] for gene in columns["gene"]],
        "transcript_info": [info_of[transcript] for transcript in columns["transcript"]],
        "minus": minus,
        "cds_first": cds_first,
        "cds_last": cds_last,
    })
    col = pl.col
    exons = exons.join(per_tx, on="tx", how="left", maintain_order="left")
    # Transcript (n.) positions of the exon bases on either side, in transcript order.
    up_n = pl.when(col("minus")).then(col("total") - col("through_k")).otherwise(col("through_k"))
    introns = exons.filter(col("k") < col("count") - 1).with_columns(
        number=pl.when(col("minus")).then(col("count") - 1 - col("k")).otherwise(col("k") + 1),
        last_exon_base=col("end"), up=_c_number(up_n), down=_c_number(up_n + 1),
        deep_first=col("end") + _DEEP, deep_end=col("next_exon_base") - _DEEP + 1,
    ).filter(col("deep_first") < col("deep_end"))
    exon_rows = exons.with_columns(
        number=pl.when(col("minus")).then(col("count") - col("k")).otherwise(col("k") + 1),
        # plus: n = bases before the exon + (POS - start); minus: + (end + 1 - POS)
        n_at_zero=pl.when(col("minus")).then(col("total") - col("through_k") + col("end") + 1)
        .otherwise(col("through_k") - col("end")),
    )
    none = pl.DataFrame([[None] * len(_FEATURE_SCHEMA)], schema=_FEATURE_SCHEMA, orient="row")
    table = pl.concat([none, *(frame.select([c for c in _FEATURE_SCHEMA if c in frame.columns])
                               for frame in (introns, exon_rows))], how="diagonal_relaxed").cast(_FEATURE_SCHEMA)  # type: ignore[arg-type]
    # Transcripts are numbered contig by contig, so a contig's rows are one slice of each.
    intron_tx, exon_tx = introns["tx"].to_numpy(), exon_rows["tx"].to_numpy()
    deep_first, deep_end = introns["deep_first"].to_numpy(), introns["deep_end"].to_numpy()
    exon_start, exon_end = exon_rows["start"].to_numpy() + 1, exon_rows["end"].to_numpy() + 1
    on_contig = {}
    for contig in index.contigs():
        rows = index.rows_on_contig(contig)
        i, j = np.searchsorted(intron_tx, [rows.start, rows.stop])
        e, f = np.searchsorted(exon_tx, [rows.start, rows.stop])
        on_contig[contig] = {
            "intron_rows": np.arange(i, j) + 1, "deep_first": deep_first[i:j], "deep_end": deep_end[i:j],
            "exon_rows": np.arange(e, f) + 1 + introns.height, "exon_start": exon_start[e:f], "exon_end": exon_end[e:f],
        }
    return _Features(table, on_contig)


@functools.lru_cache(maxsize=1024)  # GRCh38 with decoys has ~3,400 contigs; most are never seen
def _segments(index: TranscriptIndex, contig: str, info: Callable[[str | None], str]) -> _Segments:
    """A contig's segments; built once per process.

    Sweep over where transcripts, exons, deep intron stretches and the bases of codons with
    known bases begin (+1) and end (-1): a segment covered by one transcript and one deep
    stretch is INTRON, by one transcript and one exon (and no known codon) EXON, by none
    INTERGENIC."""
    on_contig = index.rows_on_contig(contig)
    if not on_contig:
        return _Segments(np.array([1], dtype=np.int64), np.array([INTERGENIC], dtype=np.int8),
                         np.array([0], dtype=np.int64))
    rows = _features(index, info).on_contig[bare_contig(contig)]
    intron_rows, exon_ids = rows["intron_rows"], rows["exon_rows"]
    transcript_ids = index.columns["transcript"]
    known = [g for i in on_contig for codon in index.known_codons(transcript_ids[i]) for offset in range(3)
             if (g := index.transcript(i).genomic_of_cds(3 * (codon - 1) + offset + 1)) is not None]
    events = [  # (positions, cover, deep, exon, known codon base, feature row)
        (np.array(index.tx_start[on_contig.start:on_contig.stop]) + 1, 1, 0, 0, 0, 0),
        (np.array(index.tx_end[on_contig.start:on_contig.stop]) + 1, -1, 0, 0, 0, 0),
        (rows["deep_first"], 0, 1, 0, 0, intron_rows),
        (rows["deep_end"], 0, -1, 0, 0, -intron_rows),
        (rows["exon_start"], 0, 0, 1, 0, exon_ids),
        (rows["exon_end"], 0, 0, -1, 0, -exon_ids),
        (np.array(known), 0, 0, 0, 1, 0),
        (np.array(known) + 1, 0, 0, 0, -1, 0),
    ]
    at = np.concatenate([where for where, *_ in events]).astype(np.int64)
    sums = [np.concatenate([np.broadcast_to(np.asarray(values[i], dtype=np.int64), len(where))
                            for where, *values in events]) for i in range(5)]
    order = np.argsort(at, kind="stable")
    positions = at[order]
    # One segment per distinct position, with the sums after its last event.
    last = np.r_[positions[1:] != positions[:-1], True]
    covering, in_deep, in_exon, in_known, rows_sum = (np.cumsum(v[order])[last] for v in sums)
    alone = (covering == 1) & (in_known == 0)
    kind = np.where(covering == 0, INTERGENIC,
                    np.where(alone & (in_deep == 1), INTRON,
                             np.where(alone & (in_exon == 1), EXON, OTHER))).astype(np.int8)
    return _Segments(positions[last], kind, np.where((kind == INTRON) | (kind == EXON), rows_sum, 0))


def _inert(cells: pl.Expr, values: pl.Series) -> pl.Expr:
    """`cells` with `outputs.inert` applied: the few distinct input texts that start like a
    spreadsheet formula are looked up, so the rule stays written once."""
    from pgx.outputs import inert

    risky = [v for v in values.unique().to_list() if v and v[0] in "=+-@'" and inert(v) != v]
    return cells.replace({v: inert(v) for v in risky}) if risky else cells
