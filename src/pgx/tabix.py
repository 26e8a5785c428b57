"""The tabix index (.tbi) of a VCF.gz, built while the VCF.gz is written.

htslib's `tbx_index` reads the finished file back and parses every line; here the writer
already knows each record's contig, span and place in the text, so the index costs a few
array operations per batch instead of a second pass over the file. The index holds what
`tbx_index` computes for the same file (the same bins, chunks, linear index and per-contig
counts; tests compare them on real and generated VCFs); only the order in which bins are
listed differs, which readers do not depend on. The format is in the SAM/BAM specification,
section 5.2, and tabix's documentation.

Spans are htslib's for VCF: [max(POS-1, 0), that + len(REF)). A record whose INFO has END=
is spanned by htslib from END; an index seeing one says so (`spans_known` false) and the
caller indexes the finished file with htslib instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

_MIN_SHIFT = 14  # 16 kb windows of the linear index
_LEVELS = ((5, 14, 4681), (4, 17, 585), (3, 20, 73), (2, 23, 9), (1, 26, 1))  # level, shift, first bin
_META_BIN = 37450  # pseudo-bin of per-contig offsets and record counts
_MIN_MARKER_DIST = 0x10000  # a bin spanning less compressed data than this joins its parent
_VCF_CONFIGURATION = (2, 1, 2, 0, ord("#"), 0)  # format VCF; CHROM, POS, no end column; '#'; skip 0
_UNSET = np.iinfo(np.int64).max


class UnsortedRecords(ValueError):
    """The records are not grouped by contig and sorted by position."""


def bins_of(begs: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The smallest bin holding each span [beg, end) (`hts_reg2bin` for 5 levels, 16 kb)."""
    last = ends - 1
    result = np.zeros(len(begs), dtype=np.int64)
    found = np.zeros(len(begs), dtype=bool)
    for _, shift, first in _LEVELS:
        here = ~found & ((begs >> shift) == (last >> shift))
        result[here] = first + (begs[here] >> shift)
        found |= here
    return result


def _level_of(bins: np.ndarray) -> np.ndarray:
    return np.searchsorted([1, 9, 73, 585, 4681], bins, side="right")


@dataclass
class _ContigIndex:
    name: str
    first_offset: int  # where its first record starts
    chunk_bins: list[np.ndarray] = field(default_factory=list)
    chunk_begs: list[np.ndarray] = field(default_factory=list)
    chunk_ends: list[np.ndarray] = field(default_factory=list)
    windows: np.ndarray = field(default_factory=lambda: np.full(64, _UNSET, dtype=np.int64))
    n_windows: int = 0
    records: int = 0
    end_offset: int = -1  # where the record after its last starts; -1 while open


class RecordSpans(NamedTuple):
    """The spans of a batch of records, as htslib's tabix reads them from VCF lines."""

    contigs: list[str]  # the contig of each run of records
    runs: list[int]  # the first record of each run
    begs: np.ndarray  # 0-based start
    ends: np.ndarray  # end, exclusive
    end_in_info: bool  # some record has INFO/END, which tabix would span it by instead

    @classmethod
    def of_columns(cls, rows: list[list[str]]) -> RecordSpans:
        """From records split into their columns (CHROM, POS, REF and INFO are read)."""
        contigs: list[str] = []
        runs: list[int] = []
        for i, columns in enumerate(rows):
            if not contigs or columns[0] != contigs[-1]:
                contigs.append(columns[0])
                runs.append(i)
        begs = np.maximum(np.array([int(c[1]) for c in rows], dtype=np.int64) - 1, 0)
        ends = begs + np.array([len(c[3].encode()) for c in rows], dtype=np.int64)
        return cls(contigs, runs, begs, ends, any(has_end_key(c[7]) for c in rows))


def has_end_key(info: str) -> bool:
    """Whether tabix would read an END from this INFO text."""
    return info.startswith("END=") or ";END=" in info


class TabixIndex:
    """Records pushed in file order, with offsets in the uncompressed text; `write` turns
    them into virtual offsets with the block table of the BGZF writer."""

    def __init__(self, start: int = 0) -> None:
        self._contigs: list[_ContigIndex] = []
        self._offset = start  # where the next record starts
        self._open_bin = -1  # the bin of the run of records not yet a chunk
        self._open_start = start
        self._last_beg = -1
        self.spans_known = True

    @property
    def offset(self) -> int:
        return self._offset

    def add(self, spans: RecordSpans, lengths: np.ndarray) -> None:
        """The next records, with the length of each one's line in bytes (the first run may
        continue the contig indexed last)."""
        begs, ends = spans.begs, spans.ends
        if not len(begs):
            return
        if spans.end_in_info:
            self.spans_known = False
        starts = self._offset + np.concatenate(([0], np.cumsum(lengths[:-1], dtype=np.int64)))
        bounds = [*spans.runs, len(begs)]
        for name, a, b in zip(spans.contigs, bounds, bounds[1:], strict=False):
            if a < b:
                self._add_run(name, begs[a:b], ends[a:b], starts[a:b])
        self._offset = int(starts[-1] + lengths[-1])

    def _add_run(self, name: str, begs: np.ndarray, ends: np.ndarray, starts: np.ndarray) -> None:
        first = int(starts[0])
        current = self._contigs[-1] if self._contigs else None
        if current is None or current.name != name:
            if any(c.name == name for c in self._contigs):
                raise UnsortedRecords(f"contig {name} appears in two places")
            if current is not None:
                self._close(current, first)
            current = _ContigIndex(name, first)
            self._contigs.append(current)
            self._open_bin, self._open_start, self._last_beg = -1, first, -1
        if begs[0] < self._last_beg or (len(begs) > 1 and bool(np.any(begs[1:] < begs[:-1]))):
            raise UnsortedRecords(f"positions on {name} are not sorted")
        self._last_beg = int(begs[-1])
        current.records += len(begs)
        bins = bins_of(begs, ends)
        # A chunk is a run of consecutive records in one bin: it ends where the next run starts.
        changes = np.flatnonzero(np.concatenate(([bins[0] != self._open_bin], bins[1:] != bins[:-1])))
        if len(changes):
            closing_bins = np.concatenate(([self._open_bin], bins[changes[1:] - 1]))
            closing_begs = np.concatenate(([self._open_start], starts[changes[:-1]]))
            closing_ends = starts[changes]
            if self._open_bin < 0:  # nothing was open: the contig's first run
                closing_bins, closing_begs, closing_ends = closing_bins[1:], closing_begs[1:], closing_ends[1:]
            current.chunk_bins.append(closing_bins)
            current.chunk_begs.append(closing_begs)
            current.chunk_ends.append(closing_ends)
            self._open_bin, self._open_start = int(bins[-1]), int(starts[changes[-1]])
        # Linear index: each 16 kb window a record overlaps keeps the start of the first such record.
        first_window, last_window = begs >> _MIN_SHIFT, (ends - 1) >> _MIN_SHIFT
        spans = last_window - first_window + 1
        if bool(np.all(spans == 1)):
            windows, offsets = first_window, starts
        else:
            windows = np.repeat(first_window - np.cumsum(spans) + spans, spans) + np.arange(int(spans.sum()))
            offsets = np.repeat(starts, spans)
        needed = int(last_window.max()) + 1
        if needed > len(current.windows):
            grown = np.full(max(needed, 2 * len(current.windows)), _UNSET, dtype=np.int64)
            grown[: len(current.windows)] = current.windows
            current.windows = grown
        np.minimum.at(current.windows, windows, offsets)
        current.n_windows = max(current.n_windows, needed)

    def _close(self, contig: _ContigIndex, end_offset: int) -> None:
        if self._open_bin >= 0:
            contig.chunk_bins.append(np.array([self._open_bin], dtype=np.int64))
            contig.chunk_begs.append(np.array([self._open_start], dtype=np.int64))
            contig.chunk_ends.append(np.array([end_offset], dtype=np.int64))
        contig.end_offset = end_offset
        self._open_bin = -1

    def extend(self, part: TabixIndex, shift: int) -> None:
        """Append the contigs of an index made for a part of the file that starts `shift`
        bytes into the text here (parts made by worker processes, one contig each)."""
        if self._contigs:
            self._close(self._contigs[-1], self._offset)
        known = {c.name for c in self._contigs}
        for contig in part._contigs:
            if contig.name in known:
                raise UnsortedRecords(f"contig {contig.name} appears in two places")
            shifted = _ContigIndex(contig.name, contig.first_offset + shift,
                                   [np.concatenate(contig.chunk_bins)] if contig.chunk_bins else [],
                                   [np.concatenate(contig.chunk_begs) + shift] if contig.chunk_begs else [],
                                   [np.concatenate(contig.chunk_ends) + shift] if contig.chunk_ends else [],
                                   np.where(contig.windows == _UNSET, _UNSET, contig.windows + shift),
                                   contig.n_windows, contig.records,
                                   contig.end_offset + shift if contig.end_offset >= 0 else -1)
            self._contigs.append(shifted)
        self.spans_known = self.spans_known and part.spans_known
        self._offset = part._offset + shift
        self._open_bin, self._open_start = part._open_bin, part._open_start + shift
        self._last_beg = part._last_beg

    def finish(self) -> None:
        """Close the last contig at the end of the text (a part's index is finished before it
        is sent to be joined)."""
        if self._contigs and self._contigs[-1].end_offset < 0:
            self._close(self._contigs[-1], self._offset)

    def write(self, path: str | Path, block_texts: np.ndarray, block_files: np.ndarray) -> None:
        """Write the .tbi. `block_texts[i]` and `block_files[i]` are where the i-th BGZF block
        starts in the text and in the file; the last entry is the end-of-file block."""
        from pgx.outputs import BgzfWriter

        self.finish()

        def virtual(offsets: np.ndarray) -> np.ndarray:
            # An offset on a block boundary is the next block's start, as htslib reports it.
            block = np.searchsorted(block_texts, offsets, side="right") - 1
            result: np.ndarray = (block_files[block] << 16) | (offsets - block_texts[block])
            return result

        names = b"".join(c.name.encode() + b"\0" for c in self._contigs)
        out = [b"TBI\x01", struct.pack("<8i", len(self._contigs), *_VCF_CONFIGURATION, len(names)), names]
        for contig in self._contigs:
            bins, begs, ends = _compressed_binning(
                np.concatenate(contig.chunk_bins), virtual(np.concatenate(contig.chunk_begs)),
                virtual(np.concatenate(contig.chunk_ends)))
            out.append(struct.pack("<i", len(np.unique(bins)) + 1))
            out.append(_bins_section(bins, begs, ends))
            meta = virtual(np.array([contig.first_offset, contig.end_offset], dtype=np.int64))
            out.append(struct.pack("<IiQQQQ", _META_BIN, 2, int(meta[0]), int(meta[1]), contig.records, 0))
            windows = contig.windows[: contig.n_windows].copy()
            # An empty window points where the next non-empty one does (htslib's update_loff).
            unset = windows == _UNSET
            if unset.any():
                following = np.minimum.accumulate(windows[::-1])[::-1]
                windows[unset] = following[unset]
            out.append(struct.pack("<i", len(windows)))
            out.append(virtual(windows).astype("<u8").tobytes())
        out.append(struct.pack("<Q", 0))  # records without coordinates: none in a VCF
        with BgzfWriter(path) as writer:
            for piece in out:
                writer.write_bytes(piece)


def _bins_section(bins: np.ndarray, begs: np.ndarray, ends: np.ndarray) -> bytes:
    """Each bin (ascending) as its number, its chunk count and its chunks, laid out at once."""
    unique, first, counts = np.unique(bins, return_index=True, return_counts=True)
    heads = np.empty(len(unique), dtype=[("bin", "<u4"), ("n", "<i4")])
    heads["bin"], heads["n"] = unique, counts
    chunks = np.empty(len(bins), dtype=[("beg", "<u8"), ("end", "<u8")])
    chunks["beg"], chunks["end"] = begs, ends
    out = np.empty(8 * len(unique) + 16 * len(bins), dtype=np.uint8)
    head_at = 8 * np.arange(len(unique)) + 16 * first
    chunk_at = 8 * (np.searchsorted(first, np.arange(len(bins)), side="right")) + 16 * np.arange(len(bins))
    out[head_at[:, None] + np.arange(8)] = heads.view(np.uint8).reshape(-1, 8)
    out[chunk_at[:, None] + np.arange(16)] = chunks.view(np.uint8).reshape(-1, 16)
    return out.tobytes()


def _compressed_binning(bins: np.ndarray, begs: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """htslib's compress_binning: from the deepest level up, a bin whose chunks span less than
    64 kb of compressed file moves them to its parent, when the parent has chunks; then
    chunks of one bin that touch the same BGZF block merge. Chunks never overlap, so within
    a bin the one starting last also ends last."""
    bins = bins.copy()
    levels = _level_of(bins)
    for level in range(5, 0, -1):
        here = levels == level
        if not here.any():
            continue
        at_level = np.unique(bins[here])
        first_block = np.full(len(at_level), _UNSET, dtype=np.int64)
        last_block = np.zeros(len(at_level), dtype=np.int64)
        slot = np.searchsorted(at_level, bins[here])
        np.minimum.at(first_block, slot, begs[here] >> 16)
        np.maximum.at(last_block, slot, ends[here] >> 16)
        parents = (at_level - 1) >> 3
        moves = ((last_block - first_block) < _MIN_MARKER_DIST) & np.isin(parents, bins)
        moving = here.copy()
        moving[here] = moves[slot]
        bins[moving] = (bins[moving] - 1) >> 3
        levels[moving] = level - 1
    order = np.lexsort((begs, bins))
    bins, begs, ends = bins[order], begs[order], ends[order]
    starts_group = np.ones(len(bins), dtype=bool)
    starts_group[1:] = (bins[1:] != bins[:-1]) | ((ends[:-1] >> 16) < (begs[1:] >> 16))
    group = np.cumsum(starts_group) - 1
    keep = np.flatnonzero(starts_group)
    merged_ends = np.zeros(len(keep), dtype=np.int64)
    np.maximum.at(merged_ends, group, ends)
    return bins[keep], begs[keep], merged_ends


def _tbi_head(path: str | Path) -> tuple[bytes, list[str], int]:
    """A .tbi decompressed, its contig names, and where the first contig's bins start."""
    import gzip

    data = gzip.decompress(Path(path).read_bytes())
    if data[:4] != b"TBI\x01":
        raise ValueError(f"{path}: not a tabix index")
    n_ref, *_, name_bytes = struct.unpack_from("<8i", data, 4)
    names = [n.decode() for n in data[36 : 36 + name_bytes].split(b"\0")[:-1]]
    return data, names[:n_ref], 36 + name_bytes


def read_tbi(path: str | Path) -> tuple[list[str], list[tuple[dict[int, list[tuple[int, int]]], list[int]]]]:
    """Contig names, and per contig its bins (with chunks) and linear index."""
    data, names, at = _tbi_head(path)
    contigs = []
    for _ in names:
        (n_bin,) = struct.unpack_from("<i", data, at)
        at += 4
        bins = {}
        for _ in range(n_bin):
            bin_number, n_chunk = struct.unpack_from("<Ii", data, at)
            at += 8
            values = struct.unpack_from(f"<{2 * n_chunk}Q", data, at)
            at += 16 * n_chunk
            bins[bin_number] = list(zip(values[::2], values[1::2], strict=True))
        (n_window,) = struct.unpack_from("<i", data, at)
        at += 4
        contigs.append((bins, list(struct.unpack_from(f"<{n_window}Q", data, at))))
        at += 8 * n_window
    return names, contigs


def contig_extents(path: str | Path) -> dict[str, int]:
    """Bytes of the compressed file each contig's records take, from a .tbi's pseudo-bins
    (contigs without one are left out)."""
    data, names, at = _tbi_head(path)
    extents = {}
    for name in names:
        (n_bin,) = struct.unpack_from("<i", data, at)
        at += 4
        for _ in range(n_bin):
            bin_number, n_chunk = struct.unpack_from("<Ii", data, at)
            if bin_number == _META_BIN:
                first, last = struct.unpack_from("<QQ", data, at + 8)
                extents[name] = (last >> 16) - (first >> 16)
            at += 8 + 16 * n_chunk
        (n_window,) = struct.unpack_from("<i", data, at)
        at += 4 + 8 * n_window
    return extents
