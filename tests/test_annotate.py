from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RESOURCES, write_vcf

from pgx.annotate import BuiltinAnnotator, CsqParser, annotate_vcf, parse_hgvsp
from pgx.outputs import read_tsv
from pgx.transcripts import TranscriptIndex
from pgx.vcf import Variant, iter_variants


@pytest.fixture(scope="module")
def builtin() -> BuiltinAnnotator:
    return BuiltinAnnotator(TranscriptIndex.load(RESOURCES / "annotation"))


def v(chrom: str, pos: int, ref: str, alt: str) -> Variant:
    return Variant(chrom, pos, ref, alt, 1, 0, "PASS", None, None, "none")


@pytest.mark.parametrize("text,short,kind", [
    ("ENSP00000493543.1:p.Val600Glu", "V600E", "missense"),
    ("p.(Gly12Asp)", "G12D", "missense"),
    ("p.Arg80Ter", "R80*", "nonsense"),
    ("p.Glu746_Ala750del", "E746_A750del", "deletion"),
    ("p.Leu747ProfsTer13", "L747fs", "frameshift"),
    ("p.Val600%3D", "V600=", "synonymous"),
])
def test_parse_hgvsp(text: str, short: str, kind: str) -> None:
    change = parse_hgvsp(text)
    assert change is not None and (change.short, change.kind) == (short, kind)


@pytest.mark.parametrize("chrom,pos,ref,alt,gene,consequence,hgvsc,hgvsp", [
    ("chr7", 140753336, "A", "T", "BRAF", "missense_variant", "c.1799T>A", "p.Val600Glu"),
    ("chr12", 25245350, "C", "T", "KRAS", "missense_variant", "c.35G>A", "p.Gly12Asp"),
    ("chr7", 55191822, "T", "G", "EGFR", "missense_variant", "c.2573T>G", "p.Leu858Arg"),
    ("chr17", 7675088, "C", "T", "TP53", "missense_variant", "c.524G>A", "p.Arg175His"),
    # KRAS G12C as an MNV: codon GGT -> TGC (c.34G>T plus c.36T>C) is still Cys.
    ("chr12", 25245349, "ACC", "GCA", "KRAS", "missense_variant", "c.34_36delinsTGC", "p.Gly12Cys"),
])
def test_builtin_annotator_on_known_hotspots(builtin: BuiltinAnnotator, chrom: str, pos: int, ref: str,
                                             alt: str, gene: str, consequence: str, hgvsc: str, hgvsp: str) -> None:
    a = builtin.annotate(v(chrom, pos, ref, alt))
    assert (a.gene, a.consequence, a.hgvsc, a.hgvsp) == (gene, consequence, hgvsc, hgvsp)
    assert a.source == "builtin"


def test_unknown_codon_bases_give_no_protein_change(builtin: BuiltinAnnotator) -> None:
    # EGFR T790M: codon 790's bases are in no bundled table and no FASTA is given.
    a = builtin.annotate(v("chr7", 55181378, "C", "T"))
    assert a.hgvsc == "c.2369C>T" and a.hgvsp is None
    assert "HGVSp unknown" in a.note


def test_splice_intron_utr_and_indels(builtin: BuiltinAnnotator) -> None:
    # DPYD c.1905+1G>A (*2A), minus strand.
    a = builtin.annotate(v("chr1", 97450058, "C", "T"))
    assert (a.gene, a.consequence, a.hgvsc, a.intron) == ("DPYD", "splice_donor_variant", "c.1905+1G>A", 14)
    # A one-base deletion in BRAF's CDS is a frameshift; three bases, in frame.
    fs = builtin.annotate(v("chr7", 140753335, "CA", "C"))
    assert fs.consequence == "frameshift_variant" and fs.protein and fs.protein.codon == 600
    inframe = builtin.annotate(v("chr7", 140753330, "CAAA", "C"))
    assert inframe.consequence == "inframe_deletion"
    assert builtin.annotate(v("chr7", 1, "A", "G")).consequence == "intergenic_variant"


VEP_HEADER = ('##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl VEP. '
              'Format: Allele|Consequence|SYMBOL|Feature|BIOTYPE|EXON|INTRON|HGVSc|HGVSp|CANONICAL|MANE_SELECT|MANE_PLUS_CLINICAL">\n')


def test_csq_prefers_the_knowledge_base_transcript(tmp_path: Path) -> None:
    # BRAF V600E is V640E on the MANE Plus Clinical NM_001374258 (ENST00000644969);
    # CIViC numbers it on ENST00000288602 (NM_004333).
    csq = ",".join([
        "T|missense_variant|BRAF|ENST00000644969.2|protein_coding|16/19||c.1919T>A|ENSP00000496776.1:p.Val640Glu|||NM_001374258.1",
        "T|missense_variant|BRAF|ENST00000646891.2|protein_coding|15/18||c.1799T>A|ENSP00000493543.1:p.Val600Glu|YES|NM_004333.6|",
        "T|missense_variant|BRAF|ENST00000288602.11|protein_coding|15/18||c.1799T>A|ENSP00000288602.7:p.Val600Glu|||",
    ])
    vcf = write_vcf(tmp_path / "vep.vcf", [f"chr7 140753336 . A T . PASS CSQ={csq} GT 0/1"], extra_header=VEP_HEADER)
    parser = CsqParser(vcf.read_text())
    _, columns, (variant,) = next(iter_variants(str(vcf), build="GRCh38"))
    chosen = parser.annotate(columns, variant, "T", {"BRAF": {"ENST00000288602"}})
    assert chosen is not None and chosen.protein_change == "V600E"
    assert chosen.transcript == "ENST00000288602.11" and "knowledge base" in chosen.note
    mane = parser.annotate(columns, variant, "T", {})
    assert mane is not None and mane.transcript == "ENST00000646891.2" and mane.protein_change == "V600E"


def test_annotate_vcf_writes_indexed_vcf_and_table(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "in.vcf", [
        "chr7 140753336 rs113488022 A T . PASS . GT:AD 0/1:60,40",
        "chr7 140753400 . A G . LowQual . GT:AD 0/1:60,40",
    ])
    out_vcf, out_tsv = tmp_path / "o/annotated.vcf.gz", tmp_path / "o/variants.tsv"
    qc = annotate_vcf(str(vcf), build="GRCh38", out_vcf=str(out_vcf), out_tsv=str(out_tsv), resources=RESOURCES)
    assert Path(str(out_vcf) + ".tbi").exists()
    rows = read_tsv(out_tsv)
    assert [(r["gene"], r["protein_change"], r["vaf"]) for r in rows] == [("BRAF", "V600E", "0.4")]
    assert qc["removed"] == {"FILTER not PASS (LowQual)": 1}
    from cyvcf2 import VCF

    records = list(VCF(str(out_vcf)))
    assert len(records) == 2  # every input record is kept, annotated or marked
    assert records[0].INFO["PGX_HGVSP"] == "p.Val600Glu" and records[1].INFO["PGX_STATUS"] == "not_used"


def test_annotate_refuses_a_vcf_that_already_has_our_tags(tmp_path: Path) -> None:
    from pgx.errors import PgxInputError

    header = '##INFO=<ID=PGX_GENE,Number=A,Type=String,Description="x">\n'
    vcf = write_vcf(tmp_path / "in.vcf", ["chr7 140753336 . A T . PASS . GT 0/1"], extra_header=header)
    out = tmp_path / "o/annotated.vcf.gz"
    with pytest.raises(PgxInputError, match="PGX_GENE already in the header"):
        annotate_vcf(str(vcf), build="GRCh38", out_vcf=str(out), out_tsv=str(tmp_path / "o/v.tsv"), resources=RESOURCES)
    assert not out.exists() and not (tmp_path / "o/v.tsv").exists()


def test_builtin_annotator_agrees_with_vep_on_hcc1395() -> None:
    import sys

    from conftest import ROOT, SHARED

    if not (SHARED / "reference/vcf/pvactools_hcc1395/annotated.expression.vcf.gz").exists():
        pytest.skip("HCC1395 VEP VCF is absent (shared data)")
    sys.path.insert(0, str(ROOT / "bench"))
    from annotation_agreement import measure

    result = measure()
    agreement = result["agreement_percent"]
    assert result["variants_compared"] > 1300
    assert agreement["gene"] >= 98 and agreement["exon"] >= 99 and agreement["hgvsc"] >= 93
    assert agreement["consequence_where_pgx_decides"] >= 80
