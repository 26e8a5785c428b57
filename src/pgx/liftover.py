"""Coordinate liftover between builds from our compact table of UCSC chain blocks.

A position lifts only through exactly one ungapped block; an interval only when both ends lie
in the same block on the + strand (so its length is kept). Anything else is refused (None), and
callers count what was refused.
"""

from __future__ import annotations

import bisect
import functools
import gzip
from dataclasses import dataclass
from pathlib import Path

from pgx.vcf import bare_contig

BLOCK_COLUMNS = ["chrom", "start", "end", "target_chrom", "target_start", "strand"]


@dataclass(frozen=True, slots=True)
class Block:
    start: int  # 0-based, half-open on the source build
    end: int
    target_chrom: str
    target_start: int
    strand: str


class LiftOver:
    def __init__(self, blocks: dict[str, list[Block]]):
        self._blocks = {c: sorted(b, key=lambda x: x.start) for c, b in blocks.items()}
        self._starts = {c: [b.start for b in bs] for c, bs in self._blocks.items()}
        self._longest = {c: max(b.end - b.start for b in bs) for c, bs in self._blocks.items()}

    @classmethod
    def from_rows(cls, rows: list[dict[str, object]]) -> LiftOver:
        blocks: dict[str, list[Block]] = {}
        for r in rows:
            blocks.setdefault(str(r["chrom"]), []).append(Block(
                int(str(r["start"])), int(str(r["end"])), str(r["target_chrom"]),
                int(str(r["target_start"])), str(r["strand"])))
        return cls(blocks)

    @classmethod
    def load(cls, path: str | Path) -> LiftOver:
        return _load(str(Path(path).resolve()))

    def _containing(self, chrom: str, pos: int) -> list[Block]:
        chrom = bare_contig(chrom)
        starts = self._starts.get(chrom)
        if not starts:
            return []
        zero = pos - 1
        lo = bisect.bisect_left(starts, zero - self._longest[chrom])
        hi = bisect.bisect_right(starts, zero)
        return [b for b in self._blocks[chrom][lo:hi] if b.start <= zero < b.end]

    def lift(self, chrom: str, pos: int) -> tuple[str, int] | None:
        """1-based position → (bare target contig, 1-based position), + strand only."""
        found = self._containing(chrom, pos)
        if len(found) != 1 or found[0].strand != "+":
            return None
        block = found[0]
        return block.target_chrom, block.target_start + (pos - 1 - block.start) + 1

    def lift_interval(self, chrom: str, start: int, end: int) -> tuple[str, int, int] | None:
        """1-based inclusive interval, kept whole inside one block."""
        found = self._containing(chrom, start)
        if len(found) != 1 or found[0].strand != "+" or not (end - 1 < found[0].end):
            return None
        block = found[0]
        offset = block.target_start - block.start
        return block.target_chrom, start + offset, end + offset


    def source_interval(self, target_chrom: str, start: int, end: int) -> tuple[str, int, int] | None:
        """The source-build span (1-based, inclusive) of the blocks that land in a target span:
        where to look in a GRCh37 file for what lies at [start, end] on GRCh38."""
        target = bare_contig(target_chrom)
        lows, highs = [], []
        for chrom, blocks in self._blocks.items():
            for b in blocks:
                if b.target_chrom != target or b.strand != "+":
                    continue
                t_end = b.target_start + (b.end - b.start)
                if b.target_start < end and t_end >= start:
                    lows.append((chrom, b.start + max(0, start - 1 - b.target_start) + 1))
                    highs.append((chrom, b.start + min(b.end - b.start, end - b.target_start)))
        if not lows or len({c for c, _ in lows}) != 1:
            return None
        return lows[0][0], min(p for _, p in lows), max(p for _, p in highs)


@functools.lru_cache(maxsize=2)
def _load(path: str) -> LiftOver:
    blocks: dict[str, list[Block]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            chrom, start, end, target, target_start, strand = line.rstrip("\n").split("\t")
            blocks.setdefault(chrom, []).append(Block(int(start), int(end), target, int(target_start), strand))
    return LiftOver(blocks)


def blocks_from_chain(chain_gz: Path) -> list[dict[str, object]]:
    """UCSC chain file → one row per ungapped block, primary contigs only."""
    rows: list[dict[str, object]] = []
    with gzip.open(chain_gz, "rt", encoding="ascii") as handle:
        source = target = strand = ""
        s_pos = t_pos = 0
        t_size = 0
        keep = False
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "chain":
                source, s_pos = parts[2], int(parts[5])
                target, t_size, strand, t_pos = parts[7], int(parts[8]), parts[9], int(parts[10])
                keep = "_" not in source and "_" not in target
                continue
            size = int(parts[0])
            if keep:
                # On the - strand, chain target coordinates count from the end of the contig.
                t_start = t_pos if strand == "+" else t_size - t_pos - size
                rows.append({"chrom": bare_contig(source), "start": s_pos, "end": s_pos + size,
                             "target_chrom": bare_contig(target), "target_start": t_start, "strand": strand})
            if len(parts) == 3:
                s_pos += size + int(parts[1])
                t_pos += size + int(parts[2])
    rows.sort(key=lambda r: (str(r["chrom"]), int(str(r["start"]))))
    return rows
