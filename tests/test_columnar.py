"""The columnar lane against the per-record lane: the same bytes, record for record.

Each case annotates a VCF twice, once as shipped and once with the columnar lane switched off,
and compares the VCF.gz, its index, the table and the QC. The generated VCF puts records where
the lane's rules decide: intron bases 1 to 12 and 50 from each exon on both strands, exons,
transcript edges and between genes, with the sample fields, filters, genotypes and allele-depth
ties that send a record to one lane or the other.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pysam
import pytest
from conftest import DEMO, RESOURCES, SHARED

import pgx.annotate
from pgx.annotate import annotate_vcf
from pgx.columnar import ColumnarLane, coding_bounds
from pgx.transcripts import TranscriptIndex, reverse_complement
from pgx.vcf import Filters

CONTIGS = {"chr1": 248956422, "chr7": 159345973, "chr17": 83257441, "chrX": 156040895}


def positions_that_matter(contig: str, rng: random.Random) -> list[int]:
    """Around the introns of some transcripts of each strand: where the lane's rules change."""
    index = TranscriptIndex.load(RESOURCES / "annotation")
    chosen = {pos for strand in "+-" for tx in [t for t in index.on_contig(contig) if t.strand == strand][:6]
              for pos in [tx.tx_start, tx.tx_start + 1, tx.tx_end, tx.tx_end + 1]
              + [edge + step for start, end in tx.exons for edge in (start + 1, end)
                 for step in (-50, -12, -9, -8, -3, -2, -1, 0, 1, 2, 3, 8, 9, 12, 50)]}
    chosen |= {rng.randrange(1, CONTIGS[contig]) for _ in range(300)}  # mostly between genes
    return sorted(p for p in chosen if p > 0)


SAMPLES = [  # FORMAT, the tumor's fields: each shape once in a while
    ("GT:AD:DP", "0/1:{r},{a}:{d}"), ("GT:AD:DP", "0|1:{r},{a}:."), ("GT:AD:DP", "1/1:{r},{a}:{d}"),
    ("GT:AD", "0/1:{r},{a}"), ("AD:DP", "{r},{a}:{d}"),
    ("GT:AD:DP", "0/0:{r},{a}:{d}"), ("GT:AD:DP", "./.:{r},{a}:{d}"), ("GT:AD:DP", "0/1:{r},.:{d}"),
    ("GT:AD:DP", "0/1:0,0:{d}"), ("GT:AD:DP", "0/1:31,1:32"), ("GT:DP", "0/1:{d}"), ("GT:AD:DP", "0/1"),
    ("GT:AD:DP", "0/1:{r},{a},7:{d}"), ("GT:AD:DP", "0/1:,{a}:{d}"), ("GT:AD:DP", "0/1:{r}:{d}"),
]


def generated_vcf(path: Path) -> Path:
    rng = random.Random(5)
    lines = []
    for contig in CONTIGS:
        for pos in positions_that_matter(contig, rng):
            ref = rng.choice("ACGT")
            alt = rng.choice([b for b in "ACGT" if b != ref])
            roll = rng.random()
            if roll < 0.03:
                alt = f"{alt},{ref}G"  # multi-allelic, with an insertion
            elif roll < 0.05:
                ref, alt = ref.lower(), alt.lower()
            elif roll < 0.07:
                alt = ref + alt  # insertion
            layout, sample = SAMPLES[0] if rng.random() < 0.6 else rng.choice(SAMPLES)
            r, a = rng.randrange(0, 90), rng.randrange(1, 60)
            sample = sample.format(r=r, a=a, d=r + a + rng.choice([0, 0, 5, -3]))
            filt = rng.choice(["PASS"] * 8 + [".", "LowQual"])
            info = "." if rng.random() < 0.8 else "SOMATIC;DP=12"
            record_id = "." if rng.random() < 0.9 else f"rs{pos}"
            lines.append(f"{contig}\t{pos}\t{record_id}\t{ref}\t{alt}\t.\t{filt}\t{info}\t{layout}\t.\t{sample}\n")
            if rng.random() < 0.02:  # the same position again
                lines.append(lines[-1].replace(f"\t{alt}\t", f"\t{'T' if ref != 'T' else 'C'}\t", 1))
    header = ("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={n}>\n" for c, n in CONTIGS.items())
              + '##FILTER=<ID=LowQual,Description="low">\n'
              '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="somatic">\n'
              '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
              '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
              '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL_SAMPLE\tTUMOR_SAMPLE\n")
    plain = path.with_suffix("")
    plain.write_text(header + "".join(lines), encoding="ascii")
    pysam.tabix_compress(str(plain), str(path), force=True)
    return path


def both_lanes(vcf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[dict[str, bytes], int]:
    """The outputs with and without the columnar lane, which must be equal, and how many
    records the columnar lane wrote."""
    taken = 0
    real_annotate = ColumnarLane.annotate

    def counted(self: ColumnarLane, *args: Any) -> Any:
        nonlocal taken
        batch = real_annotate(self, *args)
        taken += len(batch.lines) - len(batch.others) if batch is not None else 0
        return batch

    outputs = []
    for name, lane in (("columnar", True), ("records", False)):
        with monkeypatch.context() as patch:
            patch.setattr(ColumnarLane, "annotate", counted)
            if not lane:
                patch.setattr(pgx.annotate, "_columnar_lane", lambda *_: None)
            out = tmp_path / name
            out.mkdir()
            annotate_vcf(str(vcf), build="GRCh38", out_vcf=str(out / "a.vcf.gz"), out_tsv=str(out / "v.tsv"),
                         resources=RESOURCES, qc_out=str(out / "qc.json"), **kw)
            outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0].keys() == outputs[1].keys()
    for name in outputs[0]:
        assert outputs[0][name] == outputs[1][name], name
    return outputs[0], taken


@pytest.mark.parametrize("filters", [Filters(), Filters(require_pass=False, min_depth=20, min_vaf=0.1)],
                         ids=["default-filters", "depth-and-vaf-filters"])
def test_both_lanes_write_the_same_bytes_where_the_rules_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filters: Filters) -> None:
    vcf = generated_vcf(tmp_path / "in.vcf.gz")
    outputs, taken = both_lanes(vcf, tmp_path, monkeypatch, filters=filters, tumor_sample="TUMOR_SAMPLE")
    table = outputs["v.tsv"].decode()
    # The lane's share is real but partial: both lanes wrote records of each kind.
    rows = [line.split("\t") for line in table.splitlines() if not line.startswith("#")][1:]
    consequences = {row[15] for row in rows}
    assert {"intron_variant", "intergenic_variant", "splice_region_variant", "splice_donor_variant",
            "splice_acceptor_variant"} <= consequences
    assert 0.1 * len(rows) < taken < len(rows), (taken, len(rows))
    hgvs = {row[16] for row in rows if row[15] == "intron_variant"}
    assert any("+" in h for h in hgvs) and any("-" in h.split(".", 1)[1] for h in hgvs)


@pytest.mark.parametrize("name", ["LUNG-01.tumor.vcf", "CRC-01.tumor.vcf", "MEL-01.tumor.vcf",
                                  "MEL-01.germline.vcf"])
def test_both_lanes_write_the_same_bytes_on_the_demo(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    both_lanes(DEMO / name, tmp_path, monkeypatch)


@pytest.mark.parametrize("name", ["somatic/cases/pcgr/T001-COAD.grch38.vcf.gz",
                                  "somatic/cases/pcgr/T001-BRCA.grch38.vcf.gz"])
def test_both_lanes_write_the_same_bytes_on_real_vcfs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (SHARED / name).exists():
        pytest.skip(f"{name} is absent (shared data)")
    both_lanes(SHARED / name, tmp_path, monkeypatch)


def test_a_file_whose_contigs_have_no_transcripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vcf = tmp_path / "unplaced.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chrUn_KI270742v1,length=186739>\n"
                   '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                   '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n"
                   + "".join(f"chrUn_KI270742v1\t{100 * i}\t.\tA\tG\t.\tPASS\t.\tGT:AD\t0/1:10,{i}\n"
                             for i in range(1, 40)), encoding="ascii")
    outputs, taken = both_lanes(vcf, tmp_path, monkeypatch)
    assert taken == 38  # all but the batch's last record (its next neighbour is unknown)
    assert outputs["v.tsv"].decode().count("intergenic_variant") == 39


def exonic_vcf(path: Path, positions: dict[str, list[int]], ref_of: Any = None) -> Path:
    """One SNV at each position, REF from `ref_of(contig, pos)` when given."""
    rng = random.Random(9)
    header = ("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={n}>\n" for c, n in
                                                 {"chr1": 248956422, "chr7": 159345973, "chr12": 133275309}.items())
              + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
              '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n")
    lines = []
    for contig, where in positions.items():
        for pos in sorted(set(where)):
            ref = ref_of(contig, pos) if ref_of else rng.choice("ACGT")
            alt = rng.choice([b for b in "ACGT" if b != ref])
            lines.append(f"{contig}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT:AD\t0/1:{rng.randrange(5, 80)},{rng.randrange(1, 40)}\n")
    path.write_text(header + "".join(lines), encoding="ascii")
    return path


def exon_bases(genes: list[str]) -> tuple[dict[str, list[int]], dict[tuple[str, int], str]]:
    """Every second base of the genes' exons, and the bases of their first codons and of the
    hotspot codons whose reference bases the knowledge base knows (KRAS 12, 13, 61; BRAF 600),
    with those known bases (genomic strand)."""
    index = TranscriptIndex.load(RESOURCES / "annotation")
    where: dict[str, list[int]] = {}
    known_bases: dict[tuple[str, int], str] = {}
    for gene in genes:
        tx = index.of_gene(gene)
        assert tx is not None
        contig = f"chr{tx.chrom}"
        where.setdefault(contig, []).extend(g for start, end in tx.exons for g in range(start + 1, end + 1, 2))
        for codon in [1, *index.known_codons(tx.transcript)]:
            for i in range(3):
                g = tx.genomic_of_cds(3 * (codon - 1) + i + 1)
                assert g is not None
                where[contig].append(g)
                if codon in index.known_codons(tx.transcript):
                    base = index.codons[(tx.transcript, codon)][i]
                    known_bases[(contig, g)] = base if tx.strand == "+" else reverse_complement(base)
    return where, known_bases


def test_exonic_snvs_take_the_lane_unless_a_codon_is_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where, known_bases = exon_bases(["OR4F5", "OR4F29", "SAMD11", "NOC2L", "KRAS", "BRAF"])
    rng = random.Random(4)
    vcf = exonic_vcf(tmp_path / "exons.vcf", where, ref_of=lambda contig, pos: known_bases.get((contig, pos), rng.choice("ACGT")))
    outputs, taken = both_lanes(vcf, tmp_path, monkeypatch)
    rows = [line.split("\t") for line in outputs["v.tsv"].decode().splitlines() if not line.startswith("#")][1:]
    consequences = {row[15] for row in rows}
    assert {"5_prime_UTR_variant", "3_prime_UTR_variant", "coding_sequence_variant", "missense_variant"} <= consequences
    # Codons with known bases got their protein change from the per-record lane.
    known = [row for row in rows if (row[0], int(row[1])) in known_bases]
    assert len(known) == len(known_bases) and all(row[17].startswith("p.") for row in known)
    unknown = [row for row in rows if row[15] == "coding_sequence_variant"]
    assert all(row[17] == "" and row[18] == f"codon {row[20]}" and row[23] == "unknown" for row in unknown)
    assert {row[12] for row in unknown} >= {"OR4F5", "OR4F29", "SAMD11", "NOC2L"}
    # Both strands, and nearly every exonic record in the lane (not those where two
    # transcripts overlap, nor the known codons', nor the batch's last, nor allele-fraction ties)
    assert any(row[16].startswith("c.-") for row in rows) and any(row[16].startswith("c.*") for row in rows)
    index = TranscriptIndex.load(RESOURCES / "annotation")
    alone = [row for row in rows if len(index.overlapping(row[0], int(row[1]), int(row[1]))) == 1
             and (row[0], int(row[1])) not in known_bases and row[15].endswith(("UTR_variant", "coding_sequence_variant"))]
    assert 0.97 * len(alone) <= taken <= len(rows) - len(known), (len(alone), taken)


def test_with_a_genome_coding_snvs_and_wrong_refs_take_the_per_record_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    sequence = "".join(rng.choice("ACGT") for _ in range(970_000))  # chr1 up to NOC2L's end
    fasta = tmp_path / "chr1.fa"
    fasta.write_text(">chr1\n" + "\n".join(sequence[i:i + 60] for i in range(0, len(sequence), 60)) + "\n")
    pysam.faidx(str(fasta))
    where, _ = exon_bases(["OR4F5", "OR4F29", "SAMD11", "NOC2L"])
    vcf = exonic_vcf(tmp_path / "exons.vcf", where, ref_of=lambda _, pos: sequence[pos - 1])
    outputs, taken = both_lanes(vcf, tmp_path, monkeypatch, references={"GRCh38": str(fasta)})
    rows = [line.split("\t") for line in outputs["v.tsv"].decode().splitlines() if not line.startswith("#")][1:]
    consequences = [row[15] for row in rows]
    assert "coding_sequence_variant" not in consequences
    assert {"missense_variant", "synonymous_variant", "5_prime_UTR_variant", "3_prime_UTR_variant"} <= set(consequences)
    # The lane took the UTR records of one transcript (all but the batch's last one and the
    # ~1% whose allele fraction ties at 4 decimals), and no coding one.
    index = TranscriptIndex.load(RESOURCES / "annotation")
    alone = [row for row in rows if len(index.overlapping(row[0], int(row[1]), int(row[1]))) == 1]
    utr = sum(row[15].endswith("UTR_variant") for row in alone)
    others = sum(row[15] in ("intron_variant", "intergenic_variant") for row in rows)
    assert 0.97 * utr <= taken <= utr + others, (utr, others, taken)


def test_coding_bounds_of_every_transcript_at_once_are_each_transcripts() -> None:
    index = TranscriptIndex.load(RESOURCES / "annotation")
    first, last = coding_bounds(index)
    bounds = [index.transcript(row).coding_bounds for row in range(len(index))]
    assert len(bounds) == 19035
    assert [(int(a), int(b)) for a, b in zip(first, last, strict=True)] == bounds


def test_transcripts_made_on_demand_answer_overlaps_as_a_scan_of_all() -> None:
    index = TranscriptIndex.load(RESOURCES / "annotation")
    everything = [index.transcript(row) for row in range(len(index))]
    assert [(t.chrom, t.tx_start, t.transcript) for t in everything] == sorted(
        (t.chrom, t.tx_start, t.transcript) for t in everything)
    rng = random.Random(4)
    for contig in ["1", "chr7", "17", "X", "chrY"]:
        on_contig = [t for t in everything if t.chrom == contig.removeprefix("chr")]
        for _ in range(300):
            tx = rng.choice(on_contig)
            start = rng.randrange(max(tx.tx_start - 20_000, 1), tx.tx_end + 20_000)
            end = start + rng.choice([0, 1, 50, 5_000])
            assert index.overlapping(contig, start, end) == [
                t for t in on_contig if t.tx_start < end and t.tx_end >= start]
    assert index.of_gene("BRAF") is not None and index.of_gene("BRAF").refseq.startswith("NM_004333")
    assert index.of_gene("NOT_A_GENE") is None
