"""Reading any VCF/BCF: sample roles, build check, normalisation, depth and allele fraction.

Knows nothing of genes or drugs. Yields one `Variant` per ALT allele, trimmed (and left-aligned
when a reference FASTA is given), with the record it came from so writers can keep it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyvcf2 import VCF

from pgx.errors import PgxInputError

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


@dataclass(frozen=True, slots=True)
class Variant:
    """One ALT allele of a VCF record, normalised. `pos` is 1-based, as in VCF."""

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
        return f"{bare_contig(self.chrom)}_{self.pos}_{self.ref}_{self.alt}"

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


@dataclass(slots=True)
class ReadStats:
    """What reading removed or could not use, for the QC table."""

    records: int = 0
    alleles: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    depth_sources: dict[str, int] = field(default_factory=dict)
    left_aligned: bool = False

    def remove(self, reason: str) -> None:
        self.removed[reason] = self.removed.get(reason, 0) + 1


@dataclass(frozen=True, slots=True)
class Filters:
    require_pass: bool = True
    min_depth: int = 0
    min_vaf: float = 0.0


def open_vcf(path: str | os.PathLike[str], **kwargs: Any) -> VCF:
    """Open a VCF/VCF.gz/BCF or refuse it with one line naming the file and the cause."""
    p = Path(path)
    if not p.exists():
        raise PgxInputError(str(path), "file does not exist")
    if p.stat().st_size == 0:
        raise PgxInputError(str(path), "file is empty")
    try:
        return VCF(str(path), **kwargs)
    except Exception as exc:  # cyvcf2 raises OSError/Exception with htslib's words
        raise PgxInputError(str(path), f"not a readable VCF/BCF ({_short(exc)})") from None


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


def left_align(chrom: str, pos: int, ref: str, alt: str, fasta: Any) -> tuple[int, str, str]:
    """Shift a trimmed indel left while the sequence allows (pysam.FastaFile `fasta`)."""
    if len(ref) == len(alt) or not (ref[0] == alt[0]):
        return pos, ref, alt
    contig = _fasta_contig(fasta, chrom)
    if contig is None:
        return pos, ref, alt
    while pos > 1:
        if ref[-1] != alt[-1]:
            break
        before = fasta.fetch(contig, pos - 2, pos - 1).upper()
        if not before:
            break
        ref, alt = before + ref[:-1], before + alt[:-1]
        pos -= 1
    return pos, ref, alt


def _fasta_contig(fasta: Any, chrom: str) -> str | None:
    refs = set(fasta.references)
    for name in (chrom, bare_contig(chrom), f"chr{bare_contig(chrom)}"):
        if name in refs:
            return name
    return None


def depth_and_vaf(record: Any, sample: int | None, alt_index: int) -> tuple[int | None, float | None, str]:
    """Depth and allele fraction from whatever the caller wrote, and which tags gave them.

    Order: FORMAT AD (+DP), FORMAT AF/VAF, Strelka tier-1 counts, INFO TVAF/TDP, INFO AF/DP.
    """
    if sample is not None:
        ad = _format_array(record, "AD", sample)
        if ad is not None and len(ad) > alt_index + 1 and all(x >= 0 for x in ad):
            total = int(sum(ad))
            dp = _format_scalar(record, "DP", sample)
            depth = int(dp) if dp is not None and dp >= total else total
            vaf = ad[alt_index + 1] / total if total > 0 else None
            return depth, vaf, "FORMAT/AD"
        af = _format_array(record, "AF", sample) or _format_array(record, "VAF", sample)
        dp = _format_scalar(record, "DP", sample)
        if af is not None and len(af) > alt_index:
            return (int(dp) if dp is not None else None), float(af[alt_index]), "FORMAT/AF"
        strelka = _strelka(record, sample, alt_index)
        if strelka is not None:
            return strelka[0], strelka[1], "FORMAT/Strelka-tier1"
    tvaf = _info_float(record, "TVAF")
    tdp = _info_float(record, "TDP")
    if tvaf is not None or tdp is not None:
        return (int(tdp) if tdp is not None else None), tvaf, "INFO/TVAF,TDP"
    if sample is not None:
        dp = _format_scalar(record, "DP", sample)
        if dp is not None:
            return int(dp), None, "FORMAT/DP"
    return None, None, "none"


def _format_array(record: Any, tag: str, sample: int) -> list[float] | None:
    try:
        values = record.format(tag)
    except Exception:
        return None
    if values is None:
        return None
    row = [float(x) for x in values[sample]]
    if not row or any(math.isnan(x) for x in row):
        return None
    # cyvcf2 pads missing integer values with a large negative sentinel.
    if any(x < -(2**30) for x in row):
        return None
    return row


def _format_scalar(record: Any, tag: str, sample: int) -> float | None:
    row = _format_array(record, tag, sample)
    return row[0] if row else None


def _info_float(record: Any, tag: str) -> float | None:
    try:
        value = record.INFO.get(tag)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):
        value = value[0]
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _strelka(record: Any, sample: int, alt_index: int) -> tuple[int, float | None] | None:
    ref, alts = record.REF, record.ALT
    if len(ref) == 1 and len(alts[alt_index]) == 1:
        counts = {}
        for base in "ACGT":
            row = _format_array(record, f"{base}U", sample)
            if row is None:
                return None
            counts[base] = row[0]
        total = sum(counts.values())
        alt_count = counts.get(alts[alt_index].upper(), 0.0)
        return int(total), (alt_count / total if total else None)
    tar = _format_array(record, "TAR", sample)
    tir = _format_array(record, "TIR", sample)
    if tar is None or tir is None:
        return None
    total = tar[0] + tir[0]
    return int(total), (tir[0] / total if total else None)


def genotype_string(record: Any, sample: int | None) -> str | None:
    if sample is None or "GT" not in record.FORMAT:
        return None
    gt = record.genotypes[sample]
    alleles = ["." if a < 0 else str(a) for a in gt[:-1]]
    return ("|" if gt[-1] else "/").join(alleles)


def checked_records(vcf: VCF, path: str) -> Iterator[Any]:
    """The records of an open VCF; a record htslib cannot parse becomes one error naming the
    file line."""
    n = 0
    iterator = iter(vcf)
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            line = len(vcf.raw_header.splitlines()) + n + 1
            raise PgxInputError(path, f"unreadable record ({_short(exc)})", record=f"line {line}") from None
        n += 1
        yield record


def has_index(path: str) -> bool:
    return any(Path(path + suffix).exists() for suffix in (".tbi", ".csi"))


def _region_records(vcf: VCF, path: str, regions: list[str]) -> Iterator[Any]:
    """Records in the regions, each once even where regions overlap."""
    import warnings

    seen: set[tuple[str, int, str, str]] = set()
    for region in regions:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # cyvcf2 warns on a contig with no records
            records = checked_records(vcf(region), path)
            for record in records:
                key = (record.CHROM, record.POS, record.REF, ",".join(record.ALT))
                if key not in seen:
                    seen.add(key)
                    yield record


def iter_variants(
    path: str,
    *,
    build: str,
    tumor_sample: str | None = None,
    normal_sample: str | None = None,
    filters: Filters = Filters(),
    reference_fasta: str | None = None,
    stats: ReadStats | None = None,
    reader: VCF | None = None,
    regions: list[str] | None = None,
) -> Iterator[tuple[Any, list[Variant]]]:
    """Stream records; for each, the variants (one per usable ALT) that pass the filters.

    Records whose every allele is removed still come through (with an empty list) so a writer
    can keep them; the reasons are counted in `stats`. `reader` is an already open VCF of
    `path` (a writer that adds header lines passes its own). `regions` ('chr1:100-200', sorted)
    reads only those stretches through the file's index.
    """
    stats = stats if stats is not None else ReadStats()
    vcf = reader if reader is not None else open_vcf(path)
    check_build(vcf, build, path)
    sample = tumor_sample_index(vcf, path, tumor_sample, normal_sample)
    fasta = None
    if reference_fasta:
        import pysam

        fasta = pysam.FastaFile(reference_fasta)
        stats.left_aligned = True
    seen: set[str] = set()
    here: tuple[str, int] = ("", -1)
    record_index = 0
    for record in checked_records(vcf, path) if regions is None else _region_records(vcf, path, regions):
        record_index += 1
        stats.records += 1
        if (record.CHROM, record.POS) != here:
            # Duplicates sit together in a sorted VCF: remember only this position's alleles.
            here = (record.CHROM, record.POS)
            seen.clear()
        variants: list[Variant] = []
        filter_value = record.FILTER or "PASS"
        if not record.ALT:
            stats.remove("no ALT allele (reference call)")
            yield record, variants
            continue
        for alt_index, alt in enumerate(record.ALT):
            stats.alleles += 1
            ref = record.REF.upper()
            alt = alt.upper()
            if alt in ("*", ".", "<*>", "<NON_REF>"):
                stats.remove("placeholder ALT (*, <NON_REF>)")
                continue
            if not (set(ref) <= NUCLEOTIDES and set(alt) <= NUCLEOTIDES):
                stats.remove("symbolic or breakend ALT (not annotated)")
                continue
            if ref == alt:
                stats.remove("ALT equals REF")
                continue
            pos, nref, nalt = trim_alleles(record.POS, ref, alt)
            if fasta is not None:
                pos, nref, nalt = left_align(record.CHROM, pos, nref, nalt, fasta)
            depth, vaf, source = depth_and_vaf(record, sample, alt_index)
            stats.depth_sources[source] = stats.depth_sources.get(source, 0) + 1
            variant = Variant(
                chrom=record.CHROM,
                pos=pos,
                ref=nref,
                alt=nalt,
                record_index=record_index,
                alt_index=alt_index,
                filter=filter_value,
                depth=depth,
                vaf=vaf,
                depth_source=source,
                genotype=genotype_string(record, sample),
            )
            if variant.key in seen:
                stats.remove("duplicate record (same normalised allele seen before)")
                continue
            seen.add(variant.key)
            if filters.require_pass and filter_value != "PASS":
                stats.remove(f"FILTER not PASS ({filter_value})")
                continue
            if filters.min_depth and depth is not None and depth < filters.min_depth:
                stats.remove(f"depth below {filters.min_depth}")
                continue
            if filters.min_vaf and vaf is not None and vaf < filters.min_vaf:
                stats.remove(f"allele fraction below {filters.min_vaf}")
                continue
            if sample is not None and variant.genotype is not None:
                called = [a for a in variant.genotype.replace("|", "/").split("/") if a != "."]
                if called and all(a == "0" for a in called):
                    stats.remove("sample genotype is reference (0/0)")
                    continue
            variants.append(variant)
            stats.kept += 1
        yield record, variants
