"""The reference genome of a build: a FASTA read through htslib (pysam.FastaFile).

Every REF of an input is compared with it; the annotator reads transcript sequence from it to
3′-shift HGVS and to compute protein changes. Bases it holds as N (a FASTA that `pgx reference
fetch` trimmed to the exons) are unknown: never compared, never translated.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import TYPE_CHECKING

from pgx.errors import PgxInputError
from pgx.vcf import bare_contig, check_index_current

if TYPE_CHECKING:
    from pgx.transcripts import Transcript, TranscriptIndex

_ACGT = frozenset("ACGT")


class Genome:
    """A FASTA (plain or bgzipped, with its .fai) of one build."""

    def __init__(self, path: str | Path, build: str) -> None:
        import pysam

        self.path, self.build = str(path), build
        if not Path(self.path).is_file():
            raise PgxInputError(self.path, f"reference FASTA for {build} not found")
        index = Path(self.path + ".fai")
        if not index.is_file():
            raise PgxInputError(self.path, "reference FASTA has no .fai index beside it (samtools faidx, "
                                           "or fetch one with 'pgx reference fetch')")
        check_index_current(Path(self.path), index, "samtools faidx")
        try:
            self._fasta = pysam.FastaFile(self.path)
        except (OSError, ValueError) as exc:
            raise PgxInputError(self.path, f"not a readable indexed FASTA ({exc})") from None
        self._names = {bare_contig(name): name for name in self._fasta.references}
        self._windows: dict[str, str] = {}

    def contig(self, chrom: str) -> str | None:
        """This FASTA's name for a contig named either way (chr1 or 1)."""
        return self._names.get(bare_contig(chrom))

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases [start, end) (0-based) upper case; '' for a contig this FASTA lacks."""
        name = self.contig(chrom)
        if name is None or end <= start:
            return ""
        try:
            return self._fasta.fetch(name, max(start, 0), end).upper()
        except (ValueError, OSError) as exc:  # a file cut short, or an index of another file
            raise PgxInputError(self.path, f"{chrom}:{start + 1}-{end} cannot be read ({exc}); is the file whole "
                                           "and its .fai made from it?") from None

    def ref_problem(self, chrom: str, pos: int, ref: str) -> str | None:
        """Why REF at `pos` (1-based) is not this genome's sequence, or None. A contig the FASTA
        lacks is not checked here (the caller counts it)."""
        seq = self.fetch(chrom, pos - 1, pos - 1 + len(ref))
        if len(seq) < len(ref):
            return f"{chrom}:{pos} lies beyond the end of {chrom} in the {self.build} reference FASTA"
        ref = ref.upper()
        if all(a == b or a not in _ACGT or b not in _ACGT for a, b in zip(ref, seq, strict=True)):
            return None
        return (f"REF {ref} at {chrom}:{pos} is not the {self.build} reference sequence ({seq}); "
                f"is the VCF's build {self.build}, and the reference FASTA the one it was called on?")

    def transcript_window(self, tx: Transcript) -> str:
        """The transcript's bases from its first coding base to its last base (transcript
        orientation): the coding sequence and the 3′ UTR a frameshift or lost stop reads into."""
        from pgx.transcripts import reverse_complement

        known = self._windows.get(tx.transcript)
        if known is not None:
            return known
        if tx.strand == "+":
            pieces = [self.fetch(tx.chrom, max(start, tx.cds_start), end)
                      for start, end in tx.exons if end > tx.cds_start]
            window = "".join(pieces)
        else:
            pieces = [self.fetch(tx.chrom, start, min(end, tx.cds_end))
                      for start, end in tx.exons if start < tx.cds_end]
            window = reverse_complement("".join(pieces))
        if len(self._windows) > 256:  # a few hundred transcripts: the coding genes of a panel
            self._windows.clear()
        self._windows[tx.transcript] = window
        return window

    def shifted(self, chrom: str, pos: int, ref: str, alt: str, *, right: bool) -> tuple[int, str, str]:
        """A trimmed insertion or deletion (one anchor base, VCF style) moved as far left or
        right as the sequence allows: the same change at its 5′-most or 3′-most place."""
        if len(ref) == len(alt) or ref[0] != alt[0] or min(len(ref), len(alt)) != 1:
            return pos, ref, alt
        deletion = len(ref) > 1
        changed = ref[1:] if deletion else alt[1:]
        anchor = ref[0]
        while True:
            if right:
                base = self.fetch(chrom, pos - 1 + len(ref), pos + len(ref))
                if base not in _ACGT or changed[0] != base:
                    break
                anchor, changed, pos = changed[0], changed[1:] + base, pos + 1
            else:
                base = self.fetch(chrom, pos - 2, pos - 1) if pos > 1 else ""
                if base not in _ACGT or changed[-1] != anchor:
                    break
                anchor, changed, pos = base, anchor + changed[:-1], pos - 1
            ref, alt = (anchor + changed, anchor) if deletion else (anchor, anchor + changed)
        return pos, ref, alt


# Public sources of each build's whole assembly. UCSC lists each file's md5 in md5sum.txt
# beside it; Ensembl (Homo_sapiens.GRCh38.dna.primary_assembly.fa.gz, BSD `sum` checksums) and
# NCBI (GCA_000001405.15_GRCh38_no_alt_analysis_set.fna.gz, md5checksums.txt) serve the same
# sequence: pass --url and --md5 to take one of those.
SOURCES = {
    "GRCh38": "https://hgdownload.soe.ucsc.edu/goldenPath/hg38/bigZips/hg38.fa.gz",
    "GRCh37": "https://hgdownload.soe.ucsc.edu/goldenPath/hg19/bigZips/hg19.fa.gz",
}
EXON_PADDING = 50  # bases kept each side of an exon: splice regions and 3′ shifts across an edge


def fetch_genome(build: str, out_dir: str | Path, *, url: str | None = None, md5: str | None = None,
                 exons: list[tuple[str, int, int]] | None = None, timeout: float = 60.0, retries: int = 3,
                 backoff: float = 2.0) -> Path:
    """Download `build`'s assembly (gzip FASTA), check its md5 (given, or listed in md5sum.txt
    beside it), and write `out_dir`/<build>.fa.gz bgzipped and faidx-indexed by htslib. With
    `exons` (contig, start, end; 0-based), bases outside them become N: the file the annotator
    needs is then about 30 MB. The files appear together, moved into place at the end; a failure
    leaves whatever was there before."""
    import tempfile

    from pgx.kb.update import UpdateError, fetch

    url = url or SOURCES[build]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"{build}.fa.gz"
    keeps = str(final)
    with tempfile.TemporaryDirectory(prefix=".pgx-reference-", dir=out) as tmp:
        if md5 is None:
            listing = Path(tmp) / "md5sum.txt"
            fetch(url.rsplit("/", 1)[0] + "/md5sum.txt", listing, timeout=timeout, retries=retries,
                  backoff=backoff, algorithm="md5", keeps=keeps)
            md5 = _listed_md5(listing, url.rsplit("/", 1)[1])
            if md5 is None:
                raise UpdateError(url, "no md5 for this file in md5sum.txt beside it; pass --md5", keeps)
        source = Path(tmp) / "source.fa.gz"
        fetch(url, source, timeout=timeout, retries=retries, backoff=backoff, expected_digest=md5,
              algorithm="md5", keeps=keeps)
        written = Path(tmp) / final.name
        try:
            _bgzipped(source, written, exons)
        except (OSError, EOFError, ValueError) as exc:
            raise UpdateError(url, f"not a gzip FASTA ({exc})", keeps) from None
        for suffix in (".fai", ".gzi", ""):  # the sequence last: until then the old index fits the old file
            Path(f"{written}{suffix}").replace(f"{final}{suffix}")
    return final


def _listed_md5(listing: Path, name: str) -> str | None:
    for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
        digest, _, listed = line.partition("  ")
        if listed.strip().lstrip("*") == name and len(digest) == 32:
            return digest.lower()
    return None


def _bgzipped(source: Path, written: Path, exons: list[tuple[str, int, int]] | None) -> None:
    """The FASTA in `source` (gzip), bases outside `exons` masked, as BGZF through htslib;
    then its .fai and .gzi (htslib's faidx)."""
    import gzip

    import pysam
    from pysam.libcbgzf import BGZFile

    kept: dict[str, tuple[list[int], list[int]]] = {}
    for chrom, start, end in sorted((bare_contig(c), s, e) for c, s, e in exons or []):
        starts, ends = kept.setdefault(chrom, ([], []))
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    intervals: tuple[list[int], list[int]] = ([], [])
    offset = 0
    with gzip.open(source, "rb") as lines, BGZFile(str(written), "wb", index=None) as out:
        for line in lines:
            if line.startswith(b">"):
                intervals = kept.get(bare_contig(line[1:].split()[0].decode()), ([], []))
                offset = 0
                out.write(line)
                continue
            body = line.rstrip(b"\r\n")
            if exons is not None:
                body = _masked(body, offset, intervals)
            offset += len(body)
            out.write(body + b"\n")
    pysam.faidx(str(written))


def _masked(line: bytes, offset: int, intervals: tuple[list[int], list[int]]) -> bytes:
    """The line's bases (offset.. of its contig) with every base outside the intervals
    replaced by N."""
    starts, ends = intervals
    width = len(line)
    i = max(bisect.bisect_right(starts, offset) - 1, 0)
    masked = bytearray(b"N" * width)
    while i < len(starts) and starts[i] < offset + width:
        a, b = max(starts[i], offset) - offset, min(ends[i], offset + width) - offset
        if a < b:
            masked[a:b] = line[a:b]
        i += 1
    return bytes(masked)


def exon_intervals(index: TranscriptIndex, padding: int = EXON_PADDING) -> list[tuple[str, int, int]]:
    """Every exon of the bundled GRCh38 transcript models, `padding` bases each side."""
    return [(tx.chrom, max(start - padding, 0), end + padding)
            for tx in (index.transcript(row) for row in range(len(index))) for start, end in tx.exons]
