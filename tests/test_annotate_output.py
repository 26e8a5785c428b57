"""The annotated VCF.gz and variants.tsv as files: BGZF blocks, worker processes joining into the
same bytes as one pass, undeclared tags, and the fast table formatter against `cell()`."""

from __future__ import annotations

import gzip
import itertools
import random
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

import pysam
import pytest
from conftest import RESOURCES, SHARED, write_vcf

from pgx.annotate import (
    VARIANT_COLUMNS,
    BuiltinAnnotator,
    CsqParser,
    _row_text,
    _variant_row,
    annotate_vcf,
)
from pgx.errors import PgxInputError
from pgx.outputs import BgzfWriter, BlocksToProcess, cell, compress_blocks_from
from pgx.transcripts import TranscriptIndex
from pgx.vcf import iter_variants, open_vcf

CONTIGS = {"chr1": 248956422, "chr2": 242193529, "chr7": 159345973, "chr12": 133275309, "chr17": 83257441}
HEADER = ("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={n}>\n" for c, n in CONTIGS.items())
          + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
          '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
          '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n")


def blocks(path: Path) -> list[tuple[int, int]]:
    """(compressed size, input size) of each BGZF block, read from the block headers."""
    data = path.read_bytes()
    found, at = [], 0
    while at < len(data):
        assert data[at:at + 4] == b"\x1f\x8b\x08\x04" and data[at + 12:at + 14] == b"BC"
        size = struct.unpack("<H", data[at + 16:at + 18])[0] + 1
        found.append((size, struct.unpack("<I", data[at + size - 4:at + size])[0]))
        at += size
    return found


def test_bgzf_blocks_depend_on_the_text_not_on_how_it_was_written(tmp_path: Path) -> None:
    rng = random.Random(8)
    data = bytes(rng.choice(b"ACGT\t\n") for _ in range(40 * BgzfWriter.BLOCK_SIZE + 123))
    with BgzfWriter(tmp_path / "whole.gz") as writer:
        writer.write(data)
    at = 0
    with BgzfWriter(tmp_path / "pieces.gz") as writer:
        while at < len(data):  # a few bytes, about a block, or many blocks at a time
            size = rng.choice([1, 17, BgzfWriter.BLOCK_SIZE - 5, BgzfWriter.BLOCK_SIZE + 9, 9 * BgzfWriter.BLOCK_SIZE + 1])
            writer.write(data[at:at + size])
            at += size
    assert (tmp_path / "pieces.gz").read_bytes() == (tmp_path / "whole.gz").read_bytes()
    assert gzip.decompress((tmp_path / "pieces.gz").read_bytes()) == data


def test_bgzf_writer_blocks_end_of_file_and_parts(tmp_path: Path) -> None:
    rng = random.Random(3)
    text = "".join(f"chr1\t{i}\t.\t{rng.choice('ACGT')}\tT\t.\tPASS\t.\n" for i in range(1, 30001))
    one = tmp_path / "one.gz"
    with BgzfWriter(one) as writer:
        for line in text.splitlines(keepends=True):
            writer.write(line)
    assert gzip.decompress(one.read_bytes()).decode() == text
    sizes = blocks(one)
    assert sizes[-1] == (28, 0)  # the end-of-file block of the specification
    assert all(isize == BgzfWriter.BLOCK_SIZE for _, isize in sizes[:-2]) and all(c <= 65536 for c, _ in sizes)
    # Parts written without EOF and joined give the same bytes as one writer ending blocks there.
    half = len(text) // 2
    with BgzfWriter(tmp_path / "ended.gz") as writer:
        writer.write(text[:half])
        writer.end_block()
        writer.end_block()  # nothing pending: no empty block
        writer.write(text[half:])
    with BgzfWriter(tmp_path / "part.gz", eof=False) as part:
        part.write(text[half:])
    with BgzfWriter(tmp_path / "joined.gz") as joined:
        joined.write(text[:half])
        joined.append_part(tmp_path / "part.gz", part.layout())
    assert (tmp_path / "joined.gz").read_bytes() == (tmp_path / "ended.gz").read_bytes()
    # The block layout, which the tabix index is made from, is known without reading back.
    assert joined.layout() == writer.layout()
    starts = [0, *itertools.accumulate(size for size, _ in blocks(tmp_path / "ended.gz"))][:-1]
    assert writer.layout().block_files == starts
    assert writer.layout().text_size == len(text.encode())
    assert gzip.decompress((tmp_path / "joined.gz").read_bytes()).decode() == text


def test_bgzf_writer_leaves_the_file_unfinished_on_error(tmp_path: Path) -> None:
    path = tmp_path / "x.gz"
    with pytest.raises(RuntimeError), BgzfWriter(path) as writer:
        writer.write("chr1\t1\n" * 100_000)
        raise RuntimeError("stop")
    assert not path.read_bytes().endswith(BgzfWriter.block(b""))


def written_elsewhere(path: Path, write: Callable[[BgzfWriter], None], *, made: bool = True) -> BgzfWriter:
    """A writer whose blocks a thread compresses through a socket pair, as the process reading
    ahead does; the file `made` beforehand, as `atomic_path` makes it."""
    here, there = socket.socketpair()
    compressing = threading.Thread(target=compress_blocks_from, args=(there,))
    compressing.start()
    if made:
        path.touch()
    try:
        with BgzfWriter(path, elsewhere=BlocksToProcess(here)) as writer:
            write(writer)
    finally:
        here.close()
        compressing.join()
        there.close()
    return writer


def test_blocks_compressed_elsewhere_are_the_same_bytes_and_layout(tmp_path: Path) -> None:
    rng = random.Random(5)
    text = "".join(f"chr1\t{i}\t.\t{rng.choice('ACGT')}\tT\t.\tPASS\tX={rng.random()}\n" for i in range(1, 40001))

    def write(writer: BgzfWriter) -> None:
        writer.write(text[:1000])
        writer.end_block()
        for at in range(1000, len(text), 300_000):
            writer.write(text[at:at + 300_000])

    with BgzfWriter(tmp_path / "here.gz") as here:
        write(here)
    elsewhere = written_elsewhere(tmp_path / "elsewhere.gz", write)
    assert (tmp_path / "elsewhere.gz").read_bytes() == (tmp_path / "here.gz").read_bytes()
    assert elsewhere.layout() == here.layout()
    assert len(here.layout().block_files) > 20


def test_blocks_compressed_elsewhere_report_a_file_that_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "gone.gz"  # removed before the compressing end opens it: not made again

    def write(writer: BgzfWriter) -> None:
        writer.write("chr1\t1\n" * 100_000)

    with pytest.raises(OSError, match="gone.gz"):
        written_elsewhere(path, write, made=False)
    assert not path.exists()


def indexed_vcf(path: Path, records_per_contig: int = 400) -> Path:
    """A sorted, bgzipped, tabix-indexed VCF over five contigs with genic and intergenic sites,
    multi-allelic records, indels and a filtered record."""
    rng = random.Random(11)
    lines = []
    for contig, length in CONTIGS.items():
        positions = sorted(rng.sample(range(1_000_000, min(length, 60_000_000)), records_per_contig))
        for i, pos in enumerate(positions):
            ref = rng.choice("ACGT")
            alt = rng.choice([b for b in "ACGT" if b != ref])
            if i % 50 == 0:
                alt = f"{alt},{ref}{alt}"  # SNV and insertion
                sample = f"0/1:30,{rng.randrange(1, 20)},{rng.randrange(1, 20)}:60"
            else:
                sample = f"0/1:{rng.randrange(10, 90)},{rng.randrange(1, 60)}:."
            lines.append(f"{contig}\t{pos}\t.\t{ref}\t{alt}\t.\t{'LowQual' if i % 97 == 0 else 'PASS'}\t.\tGT:AD:DP\t{sample}\n")
    plain = path.with_suffix("")
    plain.write_text(HEADER.replace("##contig", '##FILTER=<ID=LowQual,Description="low">\n##contig', 1)
                     + "".join(lines), encoding="ascii")
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def annotate(vcf: Path, out: Path, threads: int, **kw: object) -> dict[str, object]:
    return annotate_vcf(str(vcf), build=kw.pop("build", "GRCh38"), out_vcf=str(out / "annotated.vcf.gz"),  # type: ignore[arg-type]
                        out_tsv=str(out / "variants.tsv"), resources=RESOURCES, threads=threads,
                        qc_out=str(out / "qc.json"), **kw)  # type: ignore[arg-type]


def outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize("threads", [2, 3])  # reading ahead in a second process; contigs in 3 workers
def test_two_or_more_threads_write_the_same_bytes_as_one(tmp_path: Path, threads: int) -> None:
    vcf = indexed_vcf(tmp_path / "in.vcf.gz")
    one = annotate(vcf, tmp_path / "one", threads=1)
    two = annotate(vcf, tmp_path / "two", threads=threads)
    assert one == two and one["records"] == 2000 and one["alleles"] == 2040
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.startswith(".")]  # parts removed
    # The file is a valid, indexed VCF.gz: region queries find every contig's records.
    reader = open_vcf(str(tmp_path / "two/annotated.vcf.gz"))
    assert sum(1 for _ in reader("chr12")) == 400 and sum(1 for _ in reader("chr17:1-60000000")) == 400


@pytest.mark.skipif(not (SHARED / "somatic/cases/pcgr/T001-COAD.grch38.vcf.gz.tbi").exists(),
                    reason="TCGA COAD case is absent (shared data)")
def test_workers_match_one_pass_on_a_real_tumor_vcf(tmp_path: Path) -> None:
    vcf = SHARED / "somatic/cases/pcgr/T001-COAD.grch38.vcf.gz"
    assert annotate(vcf, tmp_path / "one", threads=1) == annotate(vcf, tmp_path / "two", threads=3)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")


@pytest.mark.parametrize("threads", [2, 3])
def test_a_bad_record_read_in_another_process_is_reported_with_its_line(tmp_path: Path, threads: int) -> None:
    good = indexed_vcf(tmp_path / "good.vcf.gz", records_per_contig=20)
    lines = gzip.decompress(good.read_bytes()).decode().splitlines(keepends=True)
    n_header = sum(1 for line in lines if line.startswith("#"))
    bad_at = n_header + 50  # a chr7 record (the third contig)
    lines[bad_at] = lines[bad_at].replace("\t.\tGT:AD:DP", "\tXX=1;=broken\tGT:AD:DP").replace("PASS", "PASS\tx")
    plain = tmp_path / "bad.vcf"
    plain.write_text("".join(lines), encoding="ascii")
    bad = tmp_path / "bad.vcf.gz"
    pysam.tabix_compress(str(plain), str(bad), force=True)
    pysam.tabix_index(str(bad), preset="vcf", force=True)
    with pytest.raises(PgxInputError) as caught:
        annotate(bad, tmp_path / "out", threads=threads)
    assert str(caught.value).startswith(f"{bad}: line {bad_at + 1}: ")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("threads", [1, 2])  # read here, or by the process reading ahead
def test_tags_used_but_not_declared_are_declared_in_the_output(tmp_path: Path, threads: int) -> None:
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr7,length=159345973>\n"
    vcf = write_vcf(tmp_path / "in.vcf", [
        "chr7 140753336 . A T . LowQ XX=1 GT:AD:ZZ 0/1:60,40:3",
        "chr12 25245350 . C T . PASS . GT:AD 0/1:50,50",
    ], header=header)
    qc = annotate(vcf, tmp_path / "o", threads=threads)
    text = gzip.decompress((tmp_path / "o/annotated.vcf.gz").read_bytes()).decode()
    for line in ('##FILTER=<ID=LowQ,Description="Not declared in the input header">',
                 '##INFO=<ID=XX,Number=.,Type=String,Description="Not declared in the input header">',
                 '##FORMAT=<ID=AD,Number=.,Type=String,Description="Not declared in the input header">',
                 '##FORMAT=<ID=GT,Number=1,Type=String,Description="Not declared in the input header">',
                 "##contig=<ID=chr12>"):
        assert line in text.splitlines()
    assert "contig chr12 used but not declared in the input header; declared in the output" in qc["notes"]  # type: ignore[operator]
    assert "Dummy" not in text


@pytest.mark.parametrize("name", ["demo/LUNG-01.tumor.vcf", "demo/CRC-01.tumor.vcf", "demo/MEL-01.germline.vcf",
                                  "hcc1395"])
def test_fast_table_rows_equal_the_cell_formatter(name: str) -> None:
    from conftest import ROOT

    if name == "hcc1395":
        path = SHARED / "reference/vcf/pvactools_hcc1395/annotated.expression.vcf.gz"
        if not path.exists():
            pytest.skip("HCC1395 VEP VCF is absent (shared data)")
        sample = "HCC1395_TUMOR_DNA"
    else:
        path, sample = ROOT / name, None
    builtin = BuiltinAnnotator(TranscriptIndex.load(RESOURCES / "annotation"))
    reader = open_vcf(str(path))
    csq = CsqParser(reader.raw_header)
    checked = 0
    for record, columns, variants in iter_variants(str(path), build="GRCh38", tumor_sample=sample, reader=reader):
        for variant in variants:
            raw_alt = columns[4].split(",")[variant.alt_index]
            annotation = (csq.annotate(record, variant, raw_alt, {}) if csq.present else None) or builtin.annotate(variant)
            row = _variant_row(variant, annotation, None if columns[2] == "." else columns[2])
            assert _row_text(variant, annotation, columns[2]) == "\t".join(cell(row[c]) for c in VARIANT_COLUMNS) + "\n"
            checked += 1
    assert checked > 0


def test_a_batch_of_lines_keeps_each_line_whatever_its_characters() -> None:
    from pgx.annotate import _Lines

    texts = ["chr1\t1\t.\tA\tG\t.\tPASS\tNOTE=café\n", "chr1\t2\t.\tC\tT\t.\tPASS\t.\n", "chr1\t3\t.\tG\tA\t.\tPASS\tX=Ω\n"]
    lines = _Lines(texts)
    assert len(lines) == 3 and [lines[i] for i in range(3)] == texts
    assert lines.data == "".join(texts).encode()
    ascii_only = _Lines(texts[1:2])
    assert ascii_only[0] == texts[1]
    # As the reading process sends them: one text and where each line ends.
    import pickle

    sent = pickle.loads(pickle.dumps(lines))
    assert len(sent) == 3 and [sent[i] for i in range(3)] == texts and sent.data == lines.data
