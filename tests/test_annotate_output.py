"""The annotated VCF.gz and variants.tsv as files: htslib writing and indexing, the same bytes
with any number of threads, undeclared tags, and the fast table formatter against `cell()`."""

from __future__ import annotations

import gzip
import random
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
from pgx.outputs import IndexedVcfWriter, VcfWriteFailed, cell
from pgx.transcripts import TranscriptIndex
from pgx.vcf import iter_variants, open_vcf

CONTIGS = {"chr1": 248956422, "chr2": 242193529, "chr7": 159345973, "chr12": 133275309, "chr17": 83257441}
HEADER = ("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={n}>\n" for c, n in CONTIGS.items())
          + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
          '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
          '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n")


def test_htslib_writes_what_it_is_given_and_indexes_it(tmp_path: Path) -> None:
    rng = random.Random(3)
    # As htslib writes a header: PASS declared first.
    header = HEADER.replace("\tFORMAT\tTUMOR", "").replace(
        "\n", '\n##FILTER=<ID=PASS,Description="All filters passed">\n', 1)
    text = header + "".join(f"chr1\t{i}\t.\t{rng.choice('ACG')}\tT\t.\tPASS\t.\n" for i in range(1, 30001))
    path = tmp_path / "one.vcf.gz"
    with IndexedVcfWriter(path, threads=1) as writer:
        for at in range(0, len(text), 70_000):  # pieces that cut lines anywhere
            writer.write(text[at:at + 70_000])
    assert gzip.decompress(path.read_bytes()).decode() == text
    with pysam.TabixFile(str(path)) as tabix:
        assert sum(1 for _ in tabix.fetch("chr1", 9_999, 10_010)) == 11
    # One thread or two: the same bytes.
    with IndexedVcfWriter(tmp_path / "two.vcf.gz", threads=0) as writer:
        writer.write(text.encode())
    assert (tmp_path / "two.vcf.gz").read_bytes() == path.read_bytes()


def test_htslib_refuses_unsorted_records_and_leaves_nothing(tmp_path: Path) -> None:
    header = HEADER.replace("\tFORMAT\tTUMOR", "")
    path = tmp_path / "x.vcf.gz"
    with pytest.raises(VcfWriteFailed, match="Unsorted positions"), IndexedVcfWriter(path) as writer:
        writer.write(header + "chr1\t20\t.\tA\tT\t.\tPASS\t.\n" + "chr1\t10\t.\tA\tT\t.\tPASS\t.\n" * 50_000)
    assert not list(tmp_path.iterdir())


def test_an_abandoned_writer_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.vcf.gz"
    with pytest.raises(RuntimeError), IndexedVcfWriter(path) as writer:
        writer.write(HEADER + "chr1\t1\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n" * 100_000)
        raise RuntimeError("stop")
    assert not list(tmp_path.iterdir())


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


@pytest.mark.parametrize("threads", [2, 3])  # htslib's threads, reading and writing
def test_two_or_more_threads_write_the_same_bytes_as_one(tmp_path: Path, threads: int) -> None:
    vcf = indexed_vcf(tmp_path / "in.vcf.gz")
    one = annotate(vcf, tmp_path / "one", threads=1)
    two = annotate(vcf, tmp_path / "two", threads=threads)
    assert one == two and one["records"] == 2000 and one["alleles"] == 2040
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")
    assert not [p for p in (tmp_path / "two").iterdir() if p.name.startswith(".")]  # nothing left over
    # The file is a valid, indexed VCF.gz: region queries find every contig's records.
    reader = open_vcf(str(tmp_path / "two/annotated.vcf.gz"))
    assert sum(1 for _ in reader("chr12")) == 400 and sum(1 for _ in reader("chr17:1-60000000")) == 400


@pytest.mark.skipif(not (SHARED / "somatic/cases/pcgr/T001-COAD.grch38.vcf.gz.tbi").exists(),
                    reason="TCGA COAD case is absent (shared data)")
def test_threads_match_one_on_a_real_tumor_vcf(tmp_path: Path) -> None:
    vcf = SHARED / "somatic/cases/pcgr/T001-COAD.grch38.vcf.gz"
    assert annotate(vcf, tmp_path / "one", threads=1) == annotate(vcf, tmp_path / "two", threads=3)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")


@pytest.mark.parametrize("threads", [1, 2])
def test_a_bad_record_is_reported_with_its_line(tmp_path: Path, threads: int) -> None:
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


@pytest.mark.parametrize("threads", [1, 2])
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
    for _, columns, variants in iter_variants(str(path), build="GRCh38", tumor_sample=sample, reader=reader):
        for variant in variants:
            raw_alt = columns[4].split(",")[variant.alt_index]
            annotation = (csq.annotate(columns, variant, raw_alt, {}) if csq.present else None) or builtin.annotate(variant)
            row = _variant_row(variant, annotation, None if columns[2] == "." else columns[2])
            assert _row_text(variant, annotation, columns[2]) == "\t".join(cell(row[c]) for c in VARIANT_COLUMNS) + "\n"
            checked += 1
    assert checked > 0


def test_records_are_read_as_written_and_crlf_lines_as_lf_ones(tmp_path: Path) -> None:
    vcf = indexed_vcf(tmp_path / "in.vcf.gz", records_per_contig=30)
    text = gzip.decompress(vcf.read_bytes())
    (tmp_path / "crlf.vcf").write_bytes(text.replace(b"\n", b"\r\n"))
    annotate(vcf, tmp_path / "lf", threads=1)
    annotate(tmp_path / "crlf.vcf", tmp_path / "crlf", threads=1)
    lf, crlf = outputs(tmp_path / "lf"), outputs(tmp_path / "crlf")
    assert gzip.decompress(lf["annotated.vcf.gz"]) == gzip.decompress(crlf["annotated.vcf.gz"])
    table = lf["variants.tsv"].decode()
    assert table.replace("input: in.vcf.gz", "") == crlf["variants.tsv"].decode().replace("input: crlf.vcf", "")
    # A record's text reaches the output as written, PGX_* appended (htslib keeps both).
    first = next(line for line in text.decode().splitlines() if not line.startswith("#"))
    written = next(line for line in gzip.decompress(lf["annotated.vcf.gz"]).decode().splitlines()
                   if not line.startswith("#"))
    assert written.startswith("\t".join(first.split("\t")[:7])) and "PGX_GENE=" in written


def test_a_damaged_block_inside_the_file_is_one_line_and_no_output(tmp_path: Path) -> None:
    vcf = indexed_vcf(tmp_path / "in.vcf.gz")
    data = bytearray(vcf.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 40] = bytes(40)  # zeros inside some block's deflate stream
    damaged = tmp_path / "damaged.vcf.gz"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(PgxInputError) as caught:
        annotate(damaged, out, threads=1)
    assert str(caught.value).startswith(str(damaged)) and "\n" not in str(caught.value)
    assert not out.exists() or not list(out.iterdir())


def test_gt_after_other_fields_is_refused_in_one_line(tmp_path: Path) -> None:
    # htslib writes such a sample's missing genotype as a number it then cannot read back.
    vcf = write_vcf(tmp_path / "in.vcf", ["chr7 140753336 . A T . PASS . AD:GT 10,5:0/1"])
    with pytest.raises(PgxInputError, match="GT after other fields; VCF requires GT first") as caught:
        annotate(vcf, tmp_path / "out", threads=1)
    assert "line " in str(caught.value)


def test_the_per_record_lane_reads_lines_as_htslib_does(tmp_path: Path) -> None:
    from pgx.vcf import HtslibLines, UnreadableRecord

    vcf = write_vcf(tmp_path / "in.vcf", ["chr7 140753336 . A T . PASS . GT:AD 0/1:10,5"])
    lines = HtslibLines(open_vcf(str(vcf)))
    assert lines(["chr7\t5\t.\tA\tT,,G\t.\tPASS\t.\tGT:AD\t0/1:010,5,1",  # an empty allele; 010
                  "chr7\t6\tcafé\tA\tT\t.\tPASS\t.\tGT:AD\t0/1:10,5"],  # multi-byte text goes through a file
                 [1, 2]) == ["chr7\t5\t.\tA\tT,.,G\t.\tPASS\t.\tGT:AD\t0/1:10,5,1",
                             "chr7\t6\tcafé\tA\tT\t.\tPASS\t.\tGT:AD\t0/1:10,5"]
    with pytest.raises(UnreadableRecord) as caught:
        lines(["chr7\t5\t.\tA\tT\t.\tPASS\t.\tGT:AD\t0/1:10,5", "chr7\tx5\t.\tA\tT\t.\tPASS\t.\tGT:AD\t0/1:10,5"], [7, 8])
    assert caught.value.number == 8


def test_a_record_htslib_reads_differently_is_annotated_as_htslib_reads_it(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "in.vcf", ["chr12 25245350 . C A,,T . PASS . GT:AD 0/1:50,20,0,0"])
    annotate(vcf, tmp_path / "out", threads=1)
    rows = (tmp_path / "out/variants.tsv").read_text().splitlines()
    # The empty allele reads as "." and makes no row; the others do.
    assert [row.split("\t")[5] for row in rows if row.startswith("chr12")] == ["12_25245350_C_A", "12_25245350_C_T"]


def test_a_position_written_with_leading_zeros_is_read_as_htslib_reads_it(tmp_path: Path) -> None:
    # Between genes, where the columnar lane would take the record if its POS were plain.
    vcf = write_vcf(tmp_path / "in.vcf", ["chr7 0050000 . A T . PASS . GT:AD 0/1:010,5",
                                          "chr7 60000 . A T . PASS . GT:AD 0/1:10,5"])
    annotate(vcf, tmp_path / "out", threads=1)
    rows = [row.split("\t") for row in (tmp_path / "out/variants.tsv").read_text().splitlines() if row.startswith("chr7")]
    assert [(row[1], row[5], row[8]) for row in rows] == [("50000", "7_50000_A_T", "15"), ("60000", "7_60000_A_T", "15")]


def _table_body(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("## input:")]


def test_a_vcf_and_htslibs_rewriting_of_it_give_the_same_table(tmp_path: Path) -> None:
    """Records are read as written, yet every value must be read as htslib reads it: a VCF and
    `bcftools view`'s rewriting of it (htslib's formatting of each record) give the same
    variants.tsv. Over a generated file of every sample shape the lanes meet, and over damaged
    copies of a demo VCF (hostile cell values, lost and doubled lines) that both read: about
    half of them, the rest being refused by htslib or by pgx."""
    from conftest import DEMO
    from pysam import bcftools
    from test_columnar import generated_vcf
    from test_fuzz import damaged

    plain = tmp_path / "generated.vcf"
    plain.write_bytes(gzip.decompress(generated_vcf(tmp_path / "generated.vcf.gz").read_bytes()))
    # Values htslib writes its own way, between genes (the columnar lane) and in BRAF (the other).
    crafted = write_vcf(tmp_path / "crafted.vcf", [
        f"chr7 {pos} {rid} A {alt} . {filt} {info} GT:AD {gt}:{ad}"
        for pos, rid, alt, filt, info, gt, ad in [
            ("0050000", ".", "T", "PASS", "DP=12;", "0/1", "010,5"), ("60000", "rs1;rs2", "T", ".", "X=1;;Y", "0|1", "10,05"),
            ("070000", ".", "T,,G", "PASS", ".", "0/1", "10,5,0,1"), ("140753336", ".", "T", "PASS", "DP=+12", "0/1", "+10,5"),
            ("0140753337", ".", "T", "PASS", ".", "1/1", "0,7")]])
    copies = [plain, crafted]
    rng = random.Random(20261127)
    good = (DEMO / "CRC-01.tumor.vcf").read_bytes()
    for n in range(60):
        copy = tmp_path / f"damaged-{n}.vcf"
        copy.write_bytes(damaged(good, rng))
        copies.append(copy)
    compared = 0
    for copy in copies:
        rewritten = copy.with_suffix(".htslib.vcf")
        try:
            bcftools.view("--no-version", "-o", str(rewritten), str(copy), catch_stdout=False)
            tables = []
            for name, vcf in (("as-written", copy), ("rewritten", rewritten)):
                out = tmp_path / f"{copy.stem}-{name}"
                annotate(vcf, out, threads=1, tumor_sample="TUMOR_SAMPLE" if copy == plain else None)
                tables.append(_table_body(out / "variants.tsv"))
        except (pysam.utils.SamtoolsError, PgxInputError):
            continue  # htslib or pgx refuses one of the two: not a pair to compare
        assert tables[0] == tables[1], copy.name
        compared += 1
    print(f"\n{compared} pairs compared of {len(copies)}")
    assert compared >= 28, compared
