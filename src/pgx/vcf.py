"""Reading any VCF/BCF: sample roles, build check, normalisation, depth and allele fraction.

Knows nothing of genes or drugs. Yields one `Variant` per ALT allele, trimmed (and left-aligned
when a reference FASTA is given), with the record it came from so writers can keep it.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from cyvcf2 import VCF

from pgx.errors import PgxInputError
from pgx.htslib_messages import HTSLIB
from pgx.progress import PROGRESS

if TYPE_CHECKING:
    from pgx.genome import Genome

BUILDS = ("GRCh37", "GRCh38")

# Contig lengths that tell the builds apart (chr1, chr2, chrX); a header naming any of them
# with the other build's length is a build mismatch.
_BUILD_CONTIG_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {"1": 249250621, "2": 243199373, "X": 155270560},
    "GRCh38": {"1": 248956422, "2": 242193529, "X": 156040895},
}

NUCLEOTIDES = frozenset("ACGTN")
_CONTIG_LINE = re.compile(r"^##contig=<ID=([^,>]+),(?:.*?,)?length=(\d+)", re.M)


def bare_contig(name: str) -> str:
    """'chr7' and '7' name the same contig; we compare without the prefix."""
    return name[3:] if name.lower().startswith("chr") else name


class Variant(NamedTuple):
    """One ALT allele of a VCF record, normalised. `pos` is 1-based, as in VCF.

    A named tuple, not a frozen dataclass: one is built per allele of every record, and a frozen
    dataclass takes five times longer to construct."""

    chrom: str
    pos: int
    ref: str
    alt: str
    record_index: int
    alt_index: int
    filter: str
    depth: int | None
    vaf: float | None
    depth_source: str
    genotype: str | None = None

    @property
    def key(self) -> str:
        return variant_key(self.chrom, self.pos, self.ref, self.alt)

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1

    @property
    def kind(self) -> str:
        if len(self.ref) == len(self.alt):
            return "SNV" if len(self.ref) == 1 else "MNV"
        if len(self.ref) < len(self.alt) and self.alt.startswith(self.ref):
            return "insertion"
        if len(self.ref) > len(self.alt) and self.ref.startswith(self.alt):
            return "deletion"
        return "delins"


def variant_key(chrom: str, pos: int, ref: str, alt: str) -> str:
    """The build-independent spelling of an allele used to join tables: '7_140753336_A_T'."""
    return f"{bare_contig(chrom)}_{pos}_{ref}_{alt}"


@dataclass(slots=True)
class ReadStats:
    """What reading removed or could not use, for the QC table."""

    records: int = 0
    alleles: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    depth_sources: dict[str, int] = field(default_factory=dict)
    left_aligned: bool = False
    ref_unchecked: int = 0  # records on contigs the reference genome lacks

    def remove(self, reason: str) -> None:
        self.removed[reason] = self.removed.get(reason, 0) + 1

    def add(self, other: ReadStats) -> None:
        """Fold in the counts of another part of the same file."""
        self.records += other.records
        self.alleles += other.alleles
        self.kept += other.kept
        for counts, more in ((self.removed, other.removed), (self.depth_sources, other.depth_sources)):
            for key, n in more.items():
                counts[key] = counts.get(key, 0) + n
        self.left_aligned = self.left_aligned or other.left_aligned
        self.ref_unchecked += other.ref_unchecked


@dataclass(frozen=True, slots=True)
class Filters:
    require_pass: bool = True
    min_depth: int = 0
    min_vaf: float = 0.0


_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def open_vcf(path: str | os.PathLike[str], **kwargs: Any) -> VCF:
    """Open a VCF/VCF.gz/BCF or refuse it with one line naming the file and the cause.

    The one door every command reads through: besides what htslib checks, a file that ends
    short (no BGZF end-of-file block, a text line cut off) or an index older than its file is
    refused here, where htslib would only warn and read part of the records."""
    p = Path(path)
    if not p.exists():
        raise PgxInputError(str(path), "file does not exist")
    if p.stat().st_size == 0:
        raise PgxInputError(str(path), "file is empty")
    check_intact(p)
    try:
        vcf = VCF(str(path), **kwargs)
    except Exception as exc:  # cyvcf2 raises OSError/Exception with htslib's words
        raise PgxInputError(str(path), f"not a readable VCF/BCF ({_short(exc)})") from None
    try:
        vcf.raw_header.encode("utf-8")
        list(vcf.samples)
    except UnicodeDecodeError:
        raise PgxInputError(str(path), "header is not valid UTF-8 text", record="header") from None
    return vcf


def check_intact(path: Path) -> None:
    """Refuse a file that was cut short, and an index that predates its file.

    A BGZF file (VCF.gz, BCF) ends with a fixed empty block; a text VCF ends with a newline.
    htslib reads a file without them to wherever it stops and only warns, so a copy cut short
    would give a report missing variants. An index older than the data (compared in whole
    seconds, as htslib does, so a checkout writing both in one second is not refused) points
    into a file that has since changed: region reads would miss records."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(18)
        handle.seek(max(0, size - len(_BGZF_EOF)))
        tail = handle.read()
    if head[:2] == b"\x1f\x8b":
        if head[12:14] == b"BC" and tail != _BGZF_EOF:
            raise PgxInputError(str(path), "BGZF end-of-file block missing: the file is truncated "
                                           "or was not closed (recompress it with bgzip)")
    elif not head.startswith(b"BCF") and tail[-1:] != b"\n":
        raise PgxInputError(str(path), "last line does not end with a newline: the file may be "
                                       "truncated (if it is whole, end it with a newline)")
    for suffix in (".tbi", ".csi"):
        index = Path(str(path) + suffix)
        if index.exists():
            check_index_current(path, index, "tabix -p vcf, or bcftools index")


def check_index_current(path: Path, index: Path, rebuild: str) -> None:
    """Refuse an index older than its file (whole seconds, as htslib compares): it points into
    a file that has since changed."""
    if int(index.stat().st_mtime) < int(path.stat().st_mtime):
        raise PgxInputError(str(index), f"index is older than {path.name}: rebuild it ({rebuild})")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_build(vcf: VCF, build: str, path: str) -> None:
    """The sample sheet's build must agree with the contig lengths in the header, if any."""
    if build not in BUILDS:
        raise PgxInputError(path, f"unknown genome build {build!r} (expected GRCh37 or GRCh38)")
    # From the header text: cyvcf2's seqnames would look for an index and complain without one.
    contigs = _CONTIG_LINE.findall(vcf.raw_header)
    names = [name for name, _ in contigs]
    lengths = [int(length) for _, length in contigs]
    expected = _BUILD_CONTIG_LENGTHS[build]
    other = "GRCh37" if build == "GRCh38" else "GRCh38"
    for name, length in zip(names, lengths, strict=False):
        short = bare_contig(name)
        if short in expected and length > 0 and length != expected[short]:
            if length == _BUILD_CONTIG_LENGTHS[other][short]:
                raise PgxInputError(
                    path,
                    f"genome build mismatch: sample sheet says {build}, header contig "
                    f"{name} has the {other} length {length}",
                    record="header",
                )
            raise PgxInputError(
                path,
                f"contig {name} has length {length}, which is neither GRCh37 nor GRCh38",
                record="header",
            )


def tumor_sample_index(
    vcf: VCF, path: str, tumor_sample: str | None, normal_sample: str | None = None
) -> int | None:
    """Which sample column is the tumor: the sheet's name, Mutect2's header, Strelka's TUMOR,
    the one that is not the normal, or the only sample. None for a sites-only VCF."""
    samples = list(vcf.samples)
    if not samples:
        return None
    if tumor_sample:
        if tumor_sample not in samples:
            raise PgxInputError(
                path, f"tumor sample {tumor_sample!r} not among the VCF samples {samples}"
            )
        return samples.index(tumor_sample)
    for line in vcf.raw_header.splitlines():
        if line.startswith("##tumor_sample="):
            name = line.split("=", 1)[1].strip()
            if name in samples:
                return samples.index(name)
    named = [i for i, s in enumerate(samples) if "tumor" in s.lower() or "tumour" in s.lower()]
    if len(named) == 1:
        return named[0]
    if normal_sample and normal_sample in samples and len(samples) == 2:
        return 1 - samples.index(normal_sample)
    if len(samples) == 1:
        return 0
    raise PgxInputError(
        path,
        f"{len(samples)} samples {samples} and no tumor sample named; set tumor_sample in "
        "the sample sheet",
    )


def trim_alleles(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Drop shared trailing then leading bases, keeping one anchor base as VCF does."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
        pos += 1
    return pos, ref, alt


class _FormatLayout(NamedTuple):
    """Where GT, AD and DP sit in one FORMAT string, and every key's position."""

    keys: dict[str, int]
    gt: int
    ad: int
    dp: int

    @classmethod
    def of(cls, format_text: str) -> _FormatLayout:
        keys = {k: i for i, k in enumerate(format_text.split(":"))}
        return cls(keys, keys.get("GT", -1), keys.get("AD", -1), keys.get("DP", -1))


def _fields(layout: _FormatLayout, values: list[str]) -> dict[str, str]:
    return {k: values[i] for k, i in layout.keys.items() if i < len(values)}


def depth_and_vaf(fields: dict[str, str] | None, info: str, ref: str, alt: str,
                  alt_index: int) -> tuple[int | None, float | None, str]:
    """Depth and allele fraction from whatever the caller wrote, and which tags gave them.

    `fields` is the tumor sample's FORMAT values (text, as htslib formats them), `info` the
    record's INFO text, `ref`/`alt` the record's alleles as written. Order: FORMAT AD (+DP),
    FORMAT AF/VAF, Strelka tier-1 counts, INFO TVAF/TDP, FORMAT DP.
    """
    if fields is not None:
        ad = _numbers(fields.get("AD"))
        if ad is not None and len(ad) > alt_index + 1 and all(x >= 0 for x in ad):
            return (*_from_allele_depths(ad, _first(fields.get("DP")), alt_index), "FORMAT/AD")
        af = _numbers(fields.get("AF")) or _numbers(fields.get("VAF"))
        dp = _first(fields.get("DP"))
        if af is not None and len(af) > alt_index:
            return (int(dp) if dp is not None else None), af[alt_index], "FORMAT/AF"
        strelka = _strelka(fields, ref, alt)
        if strelka is not None:
            return strelka[0], strelka[1], "FORMAT/Strelka-tier1"
    if "TVAF=" in info or "TDP=" in info:
        tvaf = _first(_info_text(info, "TVAF"))
        tdp = _first(_info_text(info, "TDP"))
        if tvaf is not None or tdp is not None:
            return (int(tdp) if tdp is not None else None), tvaf, "INFO/TVAF,TDP"
    if fields is not None:
        dp = _first(fields.get("DP"))
        if dp is not None:
            return int(dp), None, "FORMAT/DP"
    return None, None, "none"


def _from_allele_depths(ad: list[float] | list[int], dp: float | None, alt_index: int) -> tuple[int, float | None]:
    """Depth (DP when it covers the allele depths, else their sum) and the ALT's fraction."""
    total = int(sum(ad))
    depth = int(dp) if dp is not None and dp >= total else total
    return depth, (ad[alt_index + 1] / total if total > 0 else None)


def _numbers(text: str | None) -> list[float] | None:
    """'12,5' → [12.0, 5.0]; None when absent or any value is missing ('.') or not a number."""
    if not text:
        return None
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        return None
    if any(math.isnan(x) or math.isinf(x) for x in values):
        return None
    return values


def _first(text: str | None) -> float | None:
    values = _numbers(text)
    return values[0] if values else None


def _info_text(info: str, key: str) -> str | None:
    prefix = key + "="
    for item in info.split(";"):
        if item.startswith(prefix):
            return item[len(prefix):]
    return None


def _strelka(fields: dict[str, str], ref: str, alt: str) -> tuple[int, float | None] | None:
    if len(ref) == 1 and len(alt) == 1:
        counts = {}
        for base in "ACGT":
            tier1 = _first(fields.get(f"{base}U"))
            if tier1 is None:
                return None
            counts[base] = tier1
        total = sum(counts.values())
        alt_count = counts.get(alt.upper(), 0.0)
        return int(total), (alt_count / total if total else None)
    tar = _first(fields.get("TAR"))
    tir = _first(fields.get("TIR"))
    if tar is None or tir is None:
        return None
    total = tar + tir
    return int(total), (tir / total if total else None)


def checked_records(vcf: VCF, path: str, region: str | None = None) -> Iterator[tuple[Any, str]]:
    """The records of an open VCF (or of `region` of it), each with its line as htslib formats
    it. A record htslib cannot parse, one that is not UTF-8, one without a column per sample or
    with a genotype naming an allele it does not have becomes one error naming the file line:
    every later step may then take the columns as given."""
    n = 0
    n_samples = len(vcf.samples)
    mark = HTSLIB.mark()
    reading = PROGRESS.reading(path) if region is None else None
    iterator = iter(vcf if region is None else vcf(region))
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            errors = HTSLIB.errors_since(mark)
            if errors:  # htslib stopped at damage it reported rather than at the end
                raise PgxInputError(path, f"unreadable after record {n} (htslib: {errors[0]})") from None
            if reading is not None:
                reading.done()
            return
        except Exception as exc:
            raise PgxInputError(path, f"unreadable record ({_short(exc)})",
                                record=_where(path, n + 1, region)) from None
        n += 1
        text = record_text(record, path, n)
        if reading is not None:
            reading.advance(len(text))
        if n_samples:
            problem = _sample_columns_problem(text, n_samples)
            if problem:
                raise PgxInputError(path, problem, record=_where(path, n, region))
        yield record, text


_PLAIN_GENOTYPES = frozenset({"0/0", "0/1", "1/1", "0|0", "0|1", "1|0", "1|1", "./.", ".|.", ".", "0", "1"})
_GT_SEPARATOR = re.compile(r"[/|]")


def _sample_columns_problem(text: str, n_samples: int) -> str | None:
    """Why a record's sample columns cannot be read as written, or None."""
    columns = text.rstrip("\n").split("\t")
    if len(columns) != 9 + n_samples:
        return f"{len(columns) - 9 if len(columns) > 9 else 0} sample columns, the header names {n_samples}"
    if not columns[8].startswith("GT"):
        if "GT" in columns[8].split(":"):
            # htslib writes such a sample's missing genotype as a number it then cannot read.
            return f"FORMAT {columns[8]!r} has GT after other fields; VCF requires GT first"
        return None
    n_alleles = 1 if columns[4] == "." else columns[4].count(",") + 2
    for value in columns[9:]:
        genotype = value.split(":", 1)[0]
        if genotype in _PLAIN_GENOTYPES and n_alleles > 1:
            continue
        for allele in _GT_SEPARATOR.split(genotype):
            if allele != "." and not (allele.isdigit() and int(allele) < n_alleles):
                return f"genotype {genotype!r} names an allele the record does not have ({n_alleles - 1} ALT)"
    return None


def _where(path: str, number: int, region: str | None) -> str:
    return f"record {number} of region {region}" if region else _line_of_record(path, number)


def _line_of_record(path: str, number: int) -> str:
    """'line N' of the `number`th record in the file as written (the reader's header may have
    grown since), or 'record N' where lines mean nothing (BCF)."""
    import gzip

    try:
        with open(path, "rb") as handle:
            compressed = handle.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rt", encoding="utf-8", errors="replace") if compressed
              else open(path, encoding="utf-8", errors="replace")) as text:
            header = 0
            for line in text:
                if header == 0 and line.startswith("BCF"):
                    return f"record {number}"
                if not line.startswith("#"):
                    break
                header += 1
    except (OSError, EOFError):
        return f"record {number}"
    return f"line {header + number}"


def has_index(path: str) -> bool:
    return any(Path(path + suffix).exists() for suffix in (".tbi", ".csi"))


class UnreadableRecord(ValueError):
    """A record whose text this reading could not take; `refuse_unreadable` says why."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(problem)
        self.number = number  # 1-based, among the records
        self.problem = problem


def record_line_batches(vcf: VCF, path: str, batch_bytes: int = 2 << 20) -> Iterator[tuple[bytes, list[str]]]:
    """The records' lines (without their newline) in batches of about `batch_bytes`, each with
    its UTF-8 text.

    A text VCF, plain or gzipped, is read as written: htslib parses each line where annotate
    writes it (`pgx.outputs.IndexedVcfWriter`), so not here as well. A BCF's records come as
    htslib formats them (`checked_records`). Checked here as there: UTF-8 text, a column per
    sample, genotypes naming alleles the record has."""
    import gzip

    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as handle:
        if handle.read(3) == b"BCF":
            yield from _formatted_line_batches(vcf, path)
            return
        handle.seek(0)
        n_samples = len(vcf.samples)
        reading = PROGRESS.reading(path)
        header_lines, records, pending = 0, 0, b""
        try:
            while chunk := handle.read(batch_bytes):
                data = pending + chunk
                cut = data.rfind(b"\n") + 1
                data, pending = data[:cut], data[cut:]
                if records == 0:
                    start = 0
                    while start < len(data) and data[start] == 35:  # '#'
                        start = data.index(b"\n", start) + 1
                        header_lines += 1
                    data = data[start:]
                if not data:
                    continue
                if b"\r" in data:  # htslib reads CRLF lines as LF ones
                    data = data.replace(b"\r\n", b"\n")
                lines = _decoded(data, path, header_lines + records).split("\n")[:-1]
                if n_samples:
                    for i, line in enumerate(lines):
                        problem = _sample_columns_problem(line, n_samples)
                        if problem:
                            raise PgxInputError(path, problem, record=f"line {header_lines + records + i + 1}")
                records += len(lines)
                reading.advance_batch(len(lines), len(data))
                yield data, lines
        except (OSError, EOFError, zlib.error) as exc:  # damaged compression: htslib names it
            refuse_unreadable(vcf, path, records + 1, f"unreadable after record {records} ({_short(exc)})")
        if pending:  # open_vcf refused a text file cut mid-line; a gzip member can still end so
            refuse_unreadable(vcf, path, records + 1, "last line does not end with a newline")
        reading.done()


class HtslibLines:
    """Records' lines as htslib reads and writes them: the text the per-record code was
    written for (an empty ALT allele as '.', a Float INFO value htslib cannot read as '.',
    numbers in htslib's own form). The per-record lane takes its records through this; the
    columnar lane takes only lines plain enough to need nothing of it."""

    def __init__(self, vcf: VCF) -> None:
        from cyvcf2 import Writer

        self._header = vcf.raw_header
        self._writer = Writer(os.devnull, vcf, mode="w")

    def __call__(self, lines: list[str], numbers: list[int]) -> list[str]:
        """`lines` (records `numbers`) as htslib formats them, without their newline."""
        formatted = []
        others = []  # lines with multi-byte text: all of the batch's at once, below
        for i, (line, number) in enumerate(zip(lines, numbers, strict=True)):
            if not line.isascii():
                formatted.append("")
                others.append(i)
                continue
            try:
                formatted.append(str(self._writer.variant_from_string(line))[:-1])
            except Exception as exc:  # cyvcf2 raises Exception when vcf_parse fails
                raise UnreadableRecord(number, _short(exc)) from None
        if others:
            for i, text in zip(others, self._read_back([lines[i] for i in others], [numbers[i] for i in others]),
                               strict=True):
                formatted[i] = text
        return formatted

    def _read_back(self, lines: list[str], numbers: list[int]) -> list[str]:
        """Through a file: cyvcf2 hands a line of text to htslib with its length in characters,
        which cuts a line holding multi-byte characters short."""
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".vcf", encoding="utf-8") as handle:
            handle.write(self._header + "".join(line + "\n" for line in lines))
            handle.flush()
            records = checked_records(VCF(handle.name), handle.name)
            try:
                return [text[:-1] for _, text in records]
            except PgxInputError as exc:
                number = numbers[int(exc.record.split()[-1]) - self._header.count("\n") - 1] if exc.record else numbers[0]
                raise UnreadableRecord(number, exc.problem) from None


def _decoded(data: bytes, path: str, lines_before: int) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        line = lines_before + data.count(b"\n", 0, exc.start) + 1
        raise PgxInputError(path, "record is not valid UTF-8 text", record=f"line {line}") from None


def _formatted_line_batches(vcf: VCF, path: str, batch: int = 16384) -> Iterator[tuple[bytes, list[str]]]:
    records = checked_records(vcf, path)
    while pairs := list(itertools.islice(records, batch)):
        lines = [text[:-1] for _, text in pairs]
        yield "".join([text for _, text in pairs]).encode(), lines


def refuse_unreadable(vcf: VCF | None, path: str, number: int | None, problem: str) -> NoReturn:
    """Refuse the file for a record that could not be taken (its `number`, when known): in
    htslib's words and with the record's line where htslib reading up to it refuses something,
    as every command reads files; else with `problem`."""
    reader = open_vcf(path) if vcf is None else vcf
    for n, _ in enumerate(checked_records(reader, path), 1):
        if number is not None and n >= number:
            break
    raise PgxInputError(path, problem, record=None if number is None else _line_of_record(path, number))


def region_records(vcf: VCF, path: str, regions: list[str]) -> Iterator[tuple[Any, str]]:
    """Records in the regions (sorted), each once even where consecutive regions overlap."""
    import warnings

    last_end: tuple[str, int] = ("", -1)
    for region in regions:
        contig, _, span = region.partition(":")
        end = int(span.split("-")[1]) if "-" in span else 2**62
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # cyvcf2 warns on a contig with no records
            for record, text in checked_records(vcf, path, region):
                # A record starting inside the previous region was yielded there.
                if record.CHROM == last_end[0] and record.POS <= last_end[1]:
                    continue
                yield record, text
        last_end = (contig, end)


def iter_variants(
    path: str,
    *,
    build: str,
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
    filters: Filters = Filters(),
    genome: Genome | None = None,
    stats: ReadStats | None = None,
    reader: VCF | None = None,
    regions: list[str] | None = None,
) -> Iterator[tuple[Any, list[str], list[Variant]]]:
    """Stream records; for each, its VCF line split into columns (as htslib formats it) and
    the variants (one per usable ALT) that pass the filters.

    Records whose every allele is removed still come through (with an empty list) so a writer
    can keep them; the reasons are counted in `stats`. `reader` is an already open VCF of
    `path` (a writer that adds header lines passes its own). `regions` ('chr1:100-200' or
    'chr1', sorted) reads only those stretches through the file's index.
    """
    vcf = reader if reader is not None else open_vcf(path)
    variants_of = VariantReader(vcf, path, build=build, tumor_sample=tumor_sample,
                                normal_sample=normal_sample, filters=filters,
                                genome=genome, stats=stats, in_file_order=regions is None)
    for record, text in checked_records(vcf, path) if regions is None else region_records(vcf, path, regions):
        columns = text[:-1].split("\t")
        yield record, columns, variants_of(columns, record.POS)


def record_text(record: Any, path: str, number: int | None = None) -> str:
    """The record's line as htslib formats it."""
    try:
        return str(record)
    except UnicodeDecodeError:
        where = _line_of_record(path, number) if number else f"position {record.POS}"
        raise PgxInputError(path, "record is not valid UTF-8 text", record=where) from None


class VariantReader:
    """Turns each record's columns, in file order, into the variants that pass the filters.

    Sample fields are read from the record's text rather than through cyvcf2's numpy accessors:
    one `str(record)` costs less than a single `record.format(...)` call, and the writer needs
    the text anyway. It remembers the alleles seen at the current position (duplicates sit
    together in a sorted VCF) and numbers the records it is given; `skipped` tells it of
    records read by another lane.
    """

    def __init__(self, vcf: VCF, path: str, *, build: str, tumor_sample: str | None = None,
                 normal_sample: str | None = None, filters: Filters = Filters(),
                 genome: Genome | None = None, stats: ReadStats | None = None,
                 in_file_order: bool = True, by_genotype: bool = False) -> None:
        """`by_genotype` (germline): an allele counts only where the sample's genotype calls it;
        a sample not called there (./.) carries none of the record's alleles. Somatic callers'
        genotypes say little (only 0/0 removes an allele)."""
        self.stats = stats if stats is not None else ReadStats()
        check_build(vcf, build, path)
        self.path = path
        self.sample = tumor_sample_index(vcf, path, tumor_sample, normal_sample)
        self.genome = genome
        self.by_genotype = by_genotype
        self.stats.left_aligned = genome is not None
        self.in_file_order = in_file_order
        self.filters = filters
        self._layouts: dict[str, _FormatLayout] = {}  # most files use one or two FORMAT strings
        self._seen: set[tuple[int, str, str]] = set()
        self._here: tuple[str, int] = ("", -1)
        self.record_index = 0

    def skipped(self, records: int) -> None:
        """`records` were read elsewhere: number them, and forget the current position."""
        self.record_index += records
        self._here = ("", -1)

    def kept_elsewhere(self, records: int, depth_source: str) -> None:
        """Count `records` of one allele each that another lane read and kept."""
        if records:
            stats = self.stats
            stats.records += records
            stats.alleles += records
            stats.kept += records
            stats.depth_sources[depth_source] = stats.depth_sources.get(depth_source, 0) + records

    def __call__(self, columns: list[str], pos: int) -> list[Variant]:
        stats = self.stats
        removed = stats.remove
        self.record_index += 1
        record_index = self.record_index
        stats.records += 1
        chrom = columns[0]
        if (chrom, pos) != self._here:
            self._here = (chrom, pos)
            self._seen.clear()
        seen = self._seen
        variants: list[Variant] = []
        if columns[4] == ".":
            removed("no ALT allele (reference call)")
            return variants
        alts = columns[4].split(",")
        filter_value = columns[6] if columns[6] != "." else "PASS"
        values: list[str] | None = None
        layout: _FormatLayout | None = None
        genotype = None
        counts: list[int] | None = None  # FORMAT/AD when every count is written
        dp_text = None
        sample = self.sample
        if sample is not None and len(columns) > 9 + sample:
            layout = self._layouts.get(columns[8])
            if layout is None:
                layout = self._layouts[columns[8]] = _FormatLayout.of(columns[8])
            values = columns[9 + sample].split(":")
            n_values = len(values)
            if 0 <= layout.gt < n_values:
                genotype = values[layout.gt]
            if 0 <= layout.dp < n_values:
                dp_text = values[layout.dp]
            if 0 <= layout.ad < n_values:
                ad_parts = values[layout.ad].split(",")
                if all(x.isdigit() for x in ad_parts):
                    counts = [int(x) for x in ad_parts]
        filters, genome, depth_sources = self.filters, self.genome, stats.depth_sources
        # A sample without a GT field keeps what its record calls.
        carried = _called_alleles(genotype) if self.by_genotype and genotype is not None else None
        raw_ref = columns[3]
        ref = raw_ref.upper()
        if genome is not None:
            self._check_ref(genome, chrom, pos, ref)
        for alt_index, raw_alt in enumerate(alts):
            stats.alleles += 1
            alt = raw_alt.upper()
            if alt in ("*", ".", "<*>", "<NON_REF>"):
                removed("placeholder ALT (*, <NON_REF>)")
                continue
            if not (NUCLEOTIDES.issuperset(ref) and NUCLEOTIDES.issuperset(alt)):
                removed("symbolic or breakend ALT (not annotated)")
                continue
            if ref == alt:
                removed("ALT equals REF")
                continue
            if len(ref) == 1 and len(alt) == 1:
                npos, nref, nalt = pos, ref, alt
            else:
                npos, nref, nalt = trim_alleles(pos, ref, alt)
                if genome is not None:
                    npos, nref, nalt = genome.shifted(chrom, npos, nref, nalt, right=False)
            if counts is not None and len(counts) > alt_index + 1:
                # The common case, read without building the sample's field table.
                dp = int(dp_text) if dp_text is not None and dp_text.isdigit() else None
                depth: int | None
                depth, vaf = _from_allele_depths(counts, dp, alt_index)
                source = "FORMAT/AD"
            else:
                fields = _fields(layout, values) if layout is not None and values is not None else None
                depth, vaf, source = depth_and_vaf(fields, columns[7], raw_ref, raw_alt, alt_index)
            depth_sources[source] = depth_sources.get(source, 0) + 1
            if (npos, nref, nalt) in seen:
                removed("duplicate record (same normalised allele seen before)")
                continue
            seen.add((npos, nref, nalt))
            if filters.require_pass and filter_value != "PASS":
                removed(f"FILTER not PASS ({filter_value})")
                continue
            if filters.min_depth and depth is not None and depth < filters.min_depth:
                removed(f"depth below {filters.min_depth}")
                continue
            if filters.min_vaf and vaf is not None and vaf < filters.min_vaf:
                removed(f"allele fraction below {filters.min_vaf}")
                continue
            if genotype is not None and genotype not in NOT_REFERENCE_GENOTYPES and _is_reference_call(genotype):
                removed("sample genotype is reference (0/0)")
                continue
            if carried is not None and str(alt_index + 1) not in carried:
                removed("sample genotype not called (./.)" if not carried else "sample genotype does not carry this allele")
                continue
            variants.append(Variant(chrom, npos, nref, nalt, record_index, alt_index, filter_value,
                                    depth, vaf, source, genotype))
            stats.kept += 1
        return variants


    def _check_ref(self, genome: Genome, chrom: str, pos: int, ref: str) -> None:
        if genome.contig(chrom) is None:
            self.stats.ref_unchecked += 1
            return
        problem = genome.ref_problem(chrom, pos, ref)
        if problem:
            where = (_line_of_record(self.path, self.record_index) if self.in_file_order
                     else f"record at {chrom}:{pos}")
            raise PgxInputError(self.path, problem, record=where)


NOT_REFERENCE_GENOTYPES = frozenset({"0/1", "0|1", "1|0", "1/1", "1|1", "1", "1/2", "1|2"})


def _called_alleles(genotype: str) -> set[str]:
    """The allele numbers a genotype calls ('0/1' → {'0', '1'}; './.' → none)."""
    return set(_GT_SEPARATOR.split(genotype)) - {"."}


def _is_reference_call(genotype: str) -> bool:
    called = [a for a in genotype.replace("|", "/").split("/") if a != "."]
    return bool(called) and all(a == "0" for a in called)
