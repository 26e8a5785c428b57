from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_vcf

from pgx.errors import PgxInputError
from pgx.genome import Genome
from pgx.vcf import Filters, ReadStats, iter_variants, trim_alleles


def variants(path: Path, **kw: object) -> list:
    return [v for _, _, vs in iter_variants(str(path), build=kw.pop("build", "GRCh38"), **kw) for v in vs]  # type: ignore[arg-type]


@pytest.mark.parametrize("pos,ref,alt,expected", [
    (100, "AC", "A", (100, "AC", "A")),
    (100, "ACGT", "ACT", (101, "CG", "C")),
    (100, "CAT", "CATAT", (100, "C", "CAT")),
    (100, "GAT", "TAT", (100, "G", "T")),
])
def test_trim_keeps_one_anchor_base(pos: int, ref: str, alt: str, expected: tuple) -> None:
    assert trim_alleles(pos, ref, alt) == expected


def test_multiallelic_records_are_split_and_depth_read_from_ad(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "a.vcf", ["chr1 100 . AC A,ACT . PASS . GT:AD 1/2:10,5,5"])
    found = variants(vcf)
    assert [(v.pos, v.ref, v.alt) for v in found] == [(100, "AC", "A"), (101, "C", "CT")]
    assert found[0].depth == 20 and found[0].vaf == pytest.approx(0.25)
    assert found[0].depth_source == "FORMAT/AD"


def test_info_tvaf_tdp_used_when_no_format(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "a.vcf", ["chr1 100 . A G . PASS TVAF=0.3;TDP=50"], samples=())
    (v,) = variants(vcf)
    assert (v.depth, v.vaf, v.depth_source) == (50, pytest.approx(0.3), "INFO/TVAF,TDP")


def test_strelka_tier1_counts(tmp_path: Path) -> None:
    header = "".join(f'##FORMAT=<ID={b}U,Number=2,Type=Integer,Description="{b}">\n' for b in "ACGT")
    vcf = write_vcf(tmp_path / "s.vcf", ["chr1 100 . A G . PASS . AU:CU:GU:TU 30,31:0,0:10,11:0,0"],
                    extra_header=header)
    (v,) = variants(vcf)
    assert v.depth_source == "FORMAT/Strelka-tier1"
    assert v.depth == 40 and v.vaf == pytest.approx(0.25)


def test_filters_are_counted(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "f.vcf", [
        "chr1 100 . A G . PASS . GT:AD 0/1:10,10",
        "chr1 200 . A G . LowQual . GT:AD 0/1:10,10",
        "chr1 300 . A G . PASS . GT:AD 0/1:3,1",
        "chr1 400 . A G . PASS . GT:AD 0/1:90,2",
    ])
    stats = ReadStats()
    kept = variants(vcf, filters=Filters(True, 5, 0.05), stats=stats)
    assert [v.pos for v in kept] == [100]
    assert stats.removed == {"FILTER not PASS (LowQual)": 1, "depth below 5": 1,
                             "allele fraction below 0.05": 1}


def test_duplicate_records_are_counted_once(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "d.vcf", ["chr1 100 . A G . PASS . GT 0/1", "chr1 100 . A G . PASS . GT 0/1"])
    stats = ReadStats()
    assert len(variants(vcf, stats=stats)) == 1
    assert stats.removed == {"duplicate record (same normalised allele seen before)": 1}


def test_symbolic_and_breakend_alts_are_skipped_not_fatal(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "sv.vcf", [
        "chr1 100 . A <DEL> . PASS . GT 0/1",
        "chr1 200 . A A[chr2:300[ . PASS . GT 0/1",
        "chr1 300 . A T . PASS . GT 0/1",
    ])
    stats = ReadStats()
    assert [v.pos for v in variants(vcf, stats=stats)] == [300]
    assert stats.removed["symbolic or breakend ALT (not annotated)"] == 2


def test_wrong_build_names_both(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "b.vcf", ["chr1 100 . A G . PASS . GT 0/1"])
    with pytest.raises(PgxInputError, match="sample sheet says GRCh37.*GRCh38 length"):
        variants(vcf, build="GRCh37")


def test_tumor_sample_from_mutect2_header(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "m.vcf", ["chr1 100 . A G . PASS . GT:AD 0/0:30,0 0/1:20,10"],
                    samples=("N1", "T1"), extra_header="##tumor_sample=T1\n")
    (v,) = variants(vcf)
    assert v.vaf == pytest.approx(1 / 3)


def test_two_samples_and_no_roles_is_a_clear_error(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "two.vcf", ["chr1 100 . A G . PASS . GT 0/1 0/1"], samples=("A", "B"))
    with pytest.raises(PgxInputError, match="no tumor sample named"):
        variants(vcf)


def test_empty_and_missing_and_truncated_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.vcf"
    empty.write_text("")
    with pytest.raises(PgxInputError, match="file is empty"):
        variants(empty)
    with pytest.raises(PgxInputError, match="does not exist"):
        variants(tmp_path / "nope.vcf")
    import gzip

    good = write_vcf(tmp_path / "g.vcf", [f"chr1 {100 + i} . A G . PASS . GT 0/1" for i in range(2000)])
    data = gzip.compress(good.read_bytes())
    truncated = tmp_path / "t.vcf.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(PgxInputError):
        variants(truncated)


def _bgzf_blocks(data: bytes) -> list[int]:
    import struct

    starts, at = [], 0
    while at < len(data):
        starts.append(at)
        at += struct.unpack("<H", data[at + 16:at + 18])[0] + 1
    return starts


def test_files_cut_short_are_refused_where_htslib_only_warns(tmp_path: Path) -> None:
    import pysam

    good = write_vcf(tmp_path / "g.vcf", [f"chr1 {100 + i} . A G . PASS . GT:AD 0/1:{i % 50},7"
                                          for i in range(40000)])
    pysam.tabix_compress(str(good), str(tmp_path / "g.vcf.gz"))
    data = (tmp_path / "g.vcf.gz").read_bytes()
    blocks = _bgzf_blocks(data)
    assert len(blocks) > 4
    cuts = {"at a block boundary": data[: blocks[len(blocks) // 2]], "without the EOF block": data[:-28]}
    for cut in cuts.values():
        path = tmp_path / "cut.vcf.gz"
        path.write_bytes(cut)
        with pytest.raises(PgxInputError, match="BGZF end-of-file block missing"):
            variants(path)
    text = good.read_text()
    (tmp_path / "cut.vcf").write_text(text[: len(text) * 2 // 3])
    with pytest.raises(PgxInputError, match="does not end with a newline"):
        variants(tmp_path / "cut.vcf")
    assert len(variants(tmp_path / "g.vcf.gz")) == 40000


def test_an_index_older_than_its_file_is_refused(tmp_path: Path) -> None:
    import os

    import pysam

    from pgx.vcf import open_vcf

    good = write_vcf(tmp_path / "g.vcf", ["chr1 100 . A G . PASS . GT 0/1"])
    path = pysam.tabix_index(str(good), preset="vcf", keep_original=True)
    open_vcf(path)
    later = os.stat(path).st_mtime + 10
    os.utime(path, (later, later))
    with pytest.raises(PgxInputError, match=r"\.tbi: index is older than g\.vcf\.gz"):
        open_vcf(path)


@pytest.mark.parametrize("record,problem", [
    ("chr1 100 . A G . PASS . GT 0/7", "genotype '0/7' names an allele the record does not have"),
    ("chr1 100 . A . . PASS . GT 0|1", "genotype '0|1' names an allele"),
    ("chr1 100 . A G . PASS .", "0 sample columns, the header names 1"),
])
def test_records_whose_sample_columns_cannot_be_read_are_refused(tmp_path: Path, record: str, problem: str) -> None:
    vcf = write_vcf(tmp_path / "bad.vcf", ["chr1 90 . C T . PASS . GT 0/1", record])
    with pytest.raises(PgxInputError, match=re.escape(problem)) as refused:
        variants(vcf)
    assert refused.value.record == "line 14"  # the header is 12 lines


def test_non_utf8_sample_names_and_contigs_are_refused(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "u.vcf", ["chr1 100 . A G . PASS . GT 0/1"])
    data = vcf.read_bytes()
    (tmp_path / "name.vcf").write_bytes(data.replace(b"\tTUMOR\n", b"\tTUM\xffOR\n"))
    with pytest.raises(PgxInputError, match="header is not valid UTF-8"):
        variants(tmp_path / "name.vcf")
    (tmp_path / "contig.vcf").write_bytes(data.replace(b"\nchr1\t100", b"\nchr\xe91\t100"))
    with pytest.raises(PgxInputError, match="record is not valid UTF-8"):
        variants(tmp_path / "contig.vcf")


def test_non_ascii_sample_names_are_read(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "u.vcf", ["chr1 100 . A G . PASS . GT:AD 0/1:5,5"], samples=("Tumör-ß",))
    (v,) = variants(vcf, tumor_sample="Tumör-ß")
    assert v.vaf == pytest.approx(0.5)


def test_indels_are_left_aligned_against_a_reference_fasta(tmp_path: Path) -> None:
    import pysam

    fasta = tmp_path / "ref.fa"
    # chr21:1-20 (a toy contig) = ACGTCAGAGAGAGAGTTACG; deleting one "AG" anywhere in the repeat is the same event.
    fasta.write_text(">chr21\nACGTCAGAGAGAGAGTTACG\n")
    pysam.faidx(str(fasta))
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr21,length=20>\n" \
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
    vcf = write_vcf(tmp_path / "i.vcf", ["chr21 13 . GAG G . PASS . GT 0/1"], header=header)
    stats = ReadStats()
    (plain,) = variants(vcf, stats=stats)
    assert (plain.pos, plain.ref, plain.alt) == (13, "GAG", "G") and not stats.left_aligned
    stats = ReadStats()
    (shifted,) = variants(vcf, genome=Genome(fasta, "GRCh38"), stats=stats)
    assert (shifted.pos, shifted.ref, shifted.alt) == (5, "CAG", "C") and stats.left_aligned


def test_a_ref_the_reference_genome_does_not_have_is_refused_naming_the_line(tmp_path: Path) -> None:
    import pysam

    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr21\nACGTCAGAGAGAGAGTTACG\n>chr22\nNNNNACGT\n")
    pysam.faidx(str(fasta))
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr21,length=20>\n##contig=<ID=chr22,length=8>\n" \
             "##contig=<ID=chrM,length=8>\n" '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
    genome = Genome(fasta, "GRCh38")
    # N in the genome is unknown, not a mismatch; a contig the FASTA lacks is counted, not checked.
    good = write_vcf(tmp_path / "g.vcf", ["chr21 2 . C T . PASS . GT 0/1", "chr22 2 . G T . PASS . GT 0/1",
                                          "chrM 1 . A G . PASS . GT 0/1"], header=header)
    stats = ReadStats()
    assert len(variants(good, genome=genome, stats=stats)) == 3 and stats.ref_unchecked == 1
    bad = write_vcf(tmp_path / "b.vcf", ["chr21 2 . C T . PASS . GT 0/1", "chr21 5 . CT C . PASS . GT 0/1"],
                    header=header)
    with pytest.raises(PgxInputError) as refused:
        variants(bad, genome=genome)
    assert str(refused.value) == (f"{bad}: line 8: REF CT at chr21:5 is not the GRCh38 reference sequence (CA); "
                                  "is the VCF's build GRCh38, and the reference FASTA the one it was called on?")


def test_a_damaged_reference_genome_is_one_line_naming_it(tmp_path: Path) -> None:
    import os

    import pysam

    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr21\nACGTCAGAGAGAGAGTTACG\nACGTCAGAGAGAGAGTTACG\n")
    pysam.faidx(str(fasta))
    fasta.write_text(">chr21\nACGTCA\n")  # cut short after indexing: the .fai describes another file
    os.utime(fasta.with_suffix(".fa.fai"))
    with pytest.raises(PgxInputError, match=r"ref\.fa: chr21:30-30 cannot be read .*is the file whole and its \.fai made from it"):
        Genome(fasta, "GRCh38").ref_problem("chr21", 30, "A")
    os.utime(fasta.with_suffix(".fa.fai"), (0, 0))
    with pytest.raises(PgxInputError, match=r"ref\.fa\.fai: index is older than ref\.fa"):
        Genome(fasta, "GRCh38")
    with pytest.raises(PgxInputError, match="reference FASTA for GRCh37 not found"):
        Genome(tmp_path / "absent.fa", "GRCh37")
