"""The tabix index written beside the VCF.gz holds what htslib's own indexing computes."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import SHARED
from test_annotate_output import annotate, indexed_vcf

from pgx.outputs import BgzfWriter
from pgx.tabix import RecordSpans, TabixIndex, UnsortedRecords, bins_of, read_tbi


def htslib_index(vcf_gz: Path) -> tuple[list[str], list[tuple[dict[int, list[tuple[int, int]]], list[int]]]]:
    copy = vcf_gz.with_name("htslib-" + vcf_gz.name)
    shutil.copyfile(vcf_gz, copy)
    pysam.tabix_index(str(copy), preset="vcf", force=True, keep_original=True)
    return read_tbi(str(copy) + ".tbi")


def assert_same_as_htslib(vcf_gz: Path) -> None:
    ours, theirs = read_tbi(str(vcf_gz) + ".tbi"), htslib_index(vcf_gz)
    assert ours[0] == theirs[0]  # contig names, in order
    for name, (our_bins, our_linear), (their_bins, their_linear) in zip(ours[0], ours[1], theirs[1], strict=True):
        assert our_bins == their_bins, name
        assert our_linear == their_linear, name


def test_bins_are_htslibs() -> None:
    begs = np.array([0, 16383, 16383, 0, 5 << 26, 0], dtype=np.int64)
    ends = np.array([1, 16384, 16385, 1 << 17, (5 << 26) + 1, 1 << 29], dtype=np.int64)
    # deepest 16 kb bin; its last base; across two 16 kb windows (level 4); a whole 128 kb
    # level-4 bin; far along the contig; the whole contig range (bin 0)
    assert bins_of(begs, ends).tolist() == [4681, 4681, 585, 585, 4681 + (5 << 12), 0]


def write_indexed(path: Path, lines: list[str], header: str = "##fileformat=VCFv4.2\n") -> Path:
    """Lines written in batches of 100 through the writer, the index made on the way."""
    index = TabixIndex(len(header.encode()))
    with BgzfWriter(path) as writer:
        writer.write(header)
        writer.end_block()
        for start in range(0, len(lines), 100):
            batch = lines[start:start + 100]
            contigs = [line.split("\t", 1)[0] for line in batch]
            for i in range(1, len(batch)):
                if contigs[i] != contigs[i - 1]:
                    writer.end_block()  # annotate starts each contig in a new block
                    break
            index.add(RecordSpans.of_columns([line[:-1].split("\t") for line in batch]),
                      np.array([len(line.encode()) for line in batch], dtype=np.int64))
            writer.write("".join(batch))
    layout = writer.layout()
    index.write(str(path) + ".tbi", np.array(layout.block_texts), np.array(layout.block_files))
    return path


def record(contig: str, pos: int, ref: str, info: str = ".") -> str:
    return f"{contig}\t{pos}\t.\t{ref}\tA\t.\tPASS\t{info}\n"


def test_index_matches_htslib_on_dense_long_and_sparse_records(tmp_path: Path) -> None:
    rng = random.Random(5)
    lines = []
    # Dense SNVs (many blocks per 16 kb bin, so chunks merge across levels), deletions spanning
    # several 16 kb windows and levels, a record at POS 1, sparse records far apart, non-ASCII INFO.
    pos = 1
    for _ in range(30_000):
        lines.append(record("chr1", pos, rng.choice("ACGT"), f"N={rng.random():.6f}"))
        pos += rng.randrange(0, 3)
    for pos in sorted(rng.sample(range(100, 5_000_000), 300)):
        lines.append(record("chr2", pos, "A" * rng.choice([1, 1, 40, 20_000, 200_000]), "NOTE=é"))
    for pos in sorted(rng.sample(range(1, 200_000_000), 50)):
        lines.append(record("chrX", pos, "C"))
    vcf = write_indexed(tmp_path / "x.vcf.gz", lines)
    assert_same_as_htslib(vcf)
    with pysam.TabixFile(str(vcf), encoding="utf-8") as tabix:  # and htslib answers region queries from it
        assert sum(1 for _ in tabix.fetch("chr2", 0, 5_000_000)) == 300
        assert sum(1 for _ in tabix.fetch("chrX")) == 50


def test_records_out_of_order_are_refused() -> None:
    index = TabixIndex()
    rows = [record("chr1", 10, "A"), record("chr1", 5, "A")]
    with pytest.raises(UnsortedRecords):
        index.add(RecordSpans.of_columns([r[:-1].split("\t") for r in rows]), np.array([20, 20]))
    index = TabixIndex()
    rows = [record("chr1", 10, "A"), record("chr2", 5, "A"), record("chr1", 20, "A")]
    with pytest.raises(UnsortedRecords):
        index.add(RecordSpans.of_columns([r[:-1].split("\t") for r in rows]), np.array([20, 20, 20]))


def test_info_end_is_left_to_htslib() -> None:
    spans = RecordSpans.of_columns([r[:-1].split("\t") for r in
                                    [record("chr1", 10, "A", "SVTYPE=DEL;END=500"), record("chr1", 20, "A")]])
    assert spans.end_in_info
    assert not RecordSpans.of_columns([record("chr1", 10, "A", "XEND=5")[:-1].split("\t")]).end_in_info


def test_annotate_writes_htslibs_index_with_any_thread_count(tmp_path: Path) -> None:
    vcf = indexed_vcf(tmp_path / "in.vcf.gz")
    for threads in (1, 2, 3):
        annotate(vcf, tmp_path / str(threads), threads=threads)
        assert_same_as_htslib(tmp_path / str(threads) / "annotated.vcf.gz")


def test_annotate_indexes_info_end_records_with_htslib(tmp_path: Path) -> None:
    from conftest import write_vcf

    vcf = write_vcf(tmp_path / "sv.vcf", [
        "chr7\t140700000\t.\tA\t<DEL>\t.\tPASS\tSVTYPE=DEL;END=140800000\tGT:AD\t0/1:10,10",
        "chr7\t140753336\t.\tA\tT\t.\tPASS\t.\tGT:AD\t0/1:10,10",
    ])
    annotate(vcf, tmp_path / "out", threads=1)
    with pysam.TabixFile(str(tmp_path / "out/annotated.vcf.gz")) as tabix:
        # The deletion reaches 140,790,000 only through its END.
        assert sum(1 for _ in tabix.fetch("chr7", 140_790_000, 140_790_001)) == 1


@pytest.mark.parametrize("name", ["somatic/cases/pcgr/T001-COAD.grch38.vcf.gz",
                                  "somatic/cases/pcgr/T001-BRCA.grch37.vcf.gz",
                                  "reference/vcf/pvactools_hcc1395/annotated.expression.vcf.gz"])
def test_annotate_index_matches_htslib_on_real_vcfs(tmp_path: Path, name: str) -> None:
    vcf = SHARED / name
    if not vcf.exists():
        pytest.skip(f"{name} is absent (shared data)")
    build = "GRCh37" if "grch37" in name else "GRCh38"
    annotate(vcf, tmp_path, threads=1, build=build)
    assert_same_as_htslib(tmp_path / "annotated.vcf.gz")
