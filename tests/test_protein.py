"""Protein changes from a reference genome, on both strands, against published HGVS.

The genome is the real sequence of four MANE transcripts (APC and ALPL and LDLR on the plus
strand, BARD1 on the minus strand) placed at their GRCh38 exons (`mane_genome`). The expected
names are the ones ClinVar and the literature give these well-known variants; each case also
checks the reference base the published name states, so a wrong expectation cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RESOURCES, SHARED, needs_shared, write_vcf

from pgx.annotate import BuiltinAnnotator, _from_vep, annotate_vcf
from pgx.cli import main
from pgx.genome import Genome
from pgx.outputs import read_tsv
from pgx.protein import protein_effect, translate
from pgx.transcripts import ONE_LETTER as _ONE
from pgx.transcripts import Transcript, TranscriptIndex, reverse_complement
from pgx.vcf import Variant, trim_alleles

INDEX = TranscriptIndex.load(RESOURCES / "annotation")

# gene, published c. change, published p. change (HGVS, three-letter), consequence
PUBLISHED = [
    ("APC", "c.4348C>T", "p.Arg1450Ter", "stop_gained"),  # FAP, R1450X
    ("APC", "c.3920T>A", "p.Ile1307Lys", "missense_variant"),  # I1307K, Ashkenazi founder
    ("APC", "c.3916G>T", "p.Glu1306Ter", "stop_gained"),
    ("APC", "c.3927_3931del", "p.Glu1309AspfsTer4", "frameshift_variant"),  # the codon 1309 hotspot
    ("ALPL", "c.571G>A", "p.Glu191Lys", "missense_variant"),  # hypophosphatasia, E174K in old numbering
    ("ALPL", "c.1559del", "p.Leu520ArgfsTer86", "frameshift_variant"),  # c.1559delT, Japanese founder
    ("LDLR", "c.681C>G", "p.Asp227Glu", "missense_variant"),  # FH Afrikaner-1 (D206E)
    ("LDLR", "c.1646G>A", "p.Gly549Asp", "missense_variant"),  # FH (G528D)
    ("BARD1", "c.1690C>T", "p.Gln564Ter", "stop_gained"),  # minus strand
    ("BARD1", "c.334C>T", "p.Arg112Ter", "stop_gained"),
    # ClinVar's names, as hgvs-weaver's tests/regressions.rs checks them on these transcripts
    # (folded/hgvs-weaver); the c. name is ClinVar's delins, which pgx writes trimmed.
    ("APC", "c.1972_1973delinsAT", "p.Glu658Met", "missense_variant"),
    ("LDLR", "c.669_683delinsAACTGCGGTAAACTGCGGTAAACT", "p.Asp224_Glu228delinsThrAlaValAsnCysGlyLysLeu",
     "inframe_insertion"),
    ("ALPL", "c.876_882delinsT", "p.Gly293_Asp294del", "inframe_deletion"),
    ("BARD1", "c.66_70delinsTGCGT", "p.Pro24Ser", "missense_variant"),
]
_PUBLISHED_REF = {"c.3927_3931del": "AAAGA", "c.1559del": "T"}  # c.3927_3931delAAAGA, c.1559delT


def _genomic_span(tx: Transcript, first: int, last: int) -> tuple[int, int]:
    a, b = tx.genomic_of_cds(first), tx.genomic_of_cds(last)
    assert a is not None and b is not None
    return (a, b) if tx.strand == "+" else (b, a)


def vcf_record(genome: Genome, gene: str, hgvsc: str) -> tuple[str, int, str, str]:
    """The VCF form (left-aligned, as callers write it) of a c. substitution or deletion,
    after checking the reference base(s) the c. name states."""
    tx = INDEX.of_gene(gene)
    assert tx is not None
    chrom = f"chr{tx.chrom}"
    change = hgvsc[2:]
    if ">" in change:
        position, bases = int(change[:-3]), change[-3:]
        (g, _) = _genomic_span(tx, position, position)
        ref = genome.fetch(chrom, g - 1, g)
        stated_ref, alt = bases[0], bases[2]
        if tx.strand == "-":
            stated_ref, alt = reverse_complement(stated_ref), reverse_complement(alt)
        assert ref == stated_ref, f"{gene} {hgvsc}: the reference has {ref}"
        return chrom, g, ref, alt
    if "delins" in change:
        span_text, inserted = change.split("delins")
        span = span_text.split("_")
        start, end = _genomic_span(tx, int(span[0]), int(span[-1]))
        pos, ref, alt = trim_alleles(start, genome.fetch(chrom, start - 1, end),
                                     inserted if tx.strand == "+" else reverse_complement(inserted))
        return (chrom, *genome.shifted(chrom, pos, ref, alt, right=False))
    span = change.removesuffix("del").split("_")
    start, end = _genomic_span(tx, int(span[0]), int(span[-1]))
    deleted = genome.fetch(chrom, start - 1, end)
    stated = _PUBLISHED_REF[hgvsc]
    assert deleted == (stated if tx.strand == "+" else reverse_complement(stated)), f"{gene} {hgvsc}: {deleted}"
    anchor = genome.fetch(chrom, start - 2, start - 1)
    return (chrom, *genome.shifted(chrom, start - 1, anchor + deleted, anchor, right=False))


@pytest.mark.parametrize("gene,hgvsc,hgvsp,consequence", PUBLISHED, ids=[f"{g} {c}" for g, c, _, _ in PUBLISHED])
def test_published_variants_get_their_published_names(mane_genome: Path, gene: str, hgvsc: str, hgvsp: str,
                                                      consequence: str) -> None:
    genome = Genome(mane_genome, "GRCh38")
    chrom, pos, ref, alt = vcf_record(genome, gene, hgvsc)
    annotation = BuiltinAnnotator(INDEX, genome).annotate(Variant(chrom, pos, ref, alt, 1, 0, "PASS", None, None, "", None))
    expected_hgvsc = annotation.hgvsc if "delins" in hgvsc else hgvsc
    assert (annotation.gene, annotation.hgvsc, annotation.hgvsp, annotation.consequence) == (
        gene, expected_hgvsc, hgvsp, consequence)


def test_without_a_genome_the_same_deletion_is_named_unshifted_and_its_protein_change_is_unknown(mane_genome: Path) -> None:
    genome = Genome(mane_genome, "GRCh38")
    chrom, pos, ref, alt = vcf_record(genome, "APC", "c.3927_3931del")
    annotation = BuiltinAnnotator(INDEX, None).annotate(Variant(chrom, pos, ref, alt, 1, 0, "PASS", None, None, "", None))
    assert annotation.hgvsc != "c.3927_3931del" and annotation.hgvsp is None
    assert annotation.protein is not None and annotation.protein.kind == "frameshift"
    assert "not 3'-shifted" in annotation.note


def _window(genome: Genome, gene: str) -> tuple[Transcript, str, str]:
    tx = INDEX.of_gene(gene)
    assert tx is not None
    window = genome.transcript_window(tx)
    return tx, window, translate(window)


@pytest.mark.parametrize("gene", ["LDLR", "BARD1"])
def test_in_frame_changes_in_a_run_name_its_most_c_terminal_residue(mane_genome: Path, gene: str) -> None:
    genome = Genome(mane_genome, "GRCh38")
    tx, window, protein = _window(genome, gene)
    k = next(i for i in range(1, len(protein) - 2) if protein[i] == protein[i + 1] != protein[i + 2])
    three = {"A": "Ala", "G": "Gly", "L": "Leu", "P": "Pro", "S": "Ser", "E": "Glu", "R": "Arg", "Q": "Gln",
             "T": "Thr", "V": "Val", "K": "Lys", "D": "Asp", "C": "Cys", "F": "Phe", "N": "Asn", "I": "Ile",
             "H": "His", "W": "Trp", "Y": "Tyr", "M": "Met"}[protein[k]]
    # Deleting the first codon of the pair is named as deleting the second; inserting a copy
    # of it, as duplicating the second.
    deleted = protein_effect(window, 1, 3 * k, 3 * k + 3, "")
    assert (deleted.hgvsp, deleted.consequence) == (f"p.{three}{k + 2}del", "inframe_deletion")
    duplicated = protein_effect(window, 1, 3 * k, 3 * k, window[3 * k:3 * k + 3])
    assert (duplicated.hgvsp, duplicated.consequence) == (f"p.{three}{k + 2}dup", "inframe_insertion")
    assert duplicated.protein.short == f"{protein[k]}{k + 2}dup"


@pytest.mark.parametrize("gene", ["APC", "BARD1"])
def test_start_stop_and_synonymous_changes(mane_genome: Path, gene: str) -> None:
    genome = Genome(mane_genome, "GRCh38")
    tx, window, protein = _window(genome, gene)
    length = protein.index("*") + 1
    assert protein_effect(window, 1, 0, 1, "C").hgvsp == "p.Met1?"
    stop = 3 * (length - 1)
    lost = protein_effect(window, 1, stop, stop + 1, "C")  # T of TAA/TAG/TGA → C: Gln or Arg
    extended = translate(window[:stop] + "C" + window[stop + 1:])[length - 1:]
    tail = extended.index("*") + 1 if "*" in extended else "?"
    assert lost.consequence == "stop_lost"
    new_residue = {"Q": "Gln", "R": "Arg"}[extended[0]]
    assert lost.hgvsp == f"p.Ter{length}{new_residue}extTer{tail}"
    third = {"A": "G", "G": "A", "C": "T", "T": "C"}  # a transition at a codon's third base
    for codon in range(1, length - 1):
        i = 3 * codon + 2
        effect = protein_effect(window, 1, i, i + 1, third[window[i]])
        if effect.consequence == "synonymous_variant":
            assert effect.hgvsp.endswith(f"{codon + 1}=")
            break
    else:
        pytest.fail("no synonymous third-base transition")


def test_minus_strand_insertion_repeating_the_base_before_it_is_a_dup_at_its_3_prime_place(mane_genome: Path) -> None:
    genome = Genome(mane_genome, "GRCh38")
    tx, window, _ = _window(genome, "BARD1")
    # c.N and c.N+1 the same base, c.N+2 another: inserting one more copy anywhere in the run
    # is c.(N+1)dup, however the caller placed it in the genome.
    n = next(i for i in range(100, 400) if window[i] == window[i + 1] != window[i + 2]) + 1
    g_first = tx.genomic_of_cds(n + 1)  # the run's 3'-most base on the transcript: leftmost on the genome
    assert g_first is not None
    chrom = f"chr{tx.chrom}"
    anchor = genome.fetch(chrom, g_first - 1, g_first)
    inserted = reverse_complement(window[n])
    for pos in (g_first, g_first + 1):
        base = genome.fetch(chrom, pos - 1, pos)
        annotation = BuiltinAnnotator(INDEX, genome).annotate(
            Variant(chrom, pos, base, base + inserted, 1, 0, "PASS", None, None, "", None))
        assert annotation.hgvsc == f"c.{n + 1}dup", (pos, anchor)
        assert annotation.consequence == "frameshift_variant"
        assert annotation.hgvsp is not None and "fsTer" in annotation.hgvsp


def test_annotate_with_a_genome_writes_protein_changes_and_refuses_a_wrong_ref(
        mane_genome: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    genome = Genome(mane_genome, "GRCh38")
    records = sorted((vcf_record(genome, g, c) for g, c, _, _ in PUBLISHED), key=lambda r: (int(r[0][3:]), r[1]))
    header = "##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID=chr{c}>\n" for c in (1, 2, 5, 19)) + \
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n##FORMAT=<ID=AD,Number=R,Type=Integer,Description="AD">\n'
    vcf = write_vcf(tmp_path / "t.vcf", [f"{c} {p} . {r} {a} . PASS . GT:AD 0/1:20,10" for c, p, r, a in records],
                    header=header)
    out = tmp_path / "out"
    out.mkdir()
    annotate_vcf(str(vcf), build="GRCh38", out_vcf=str(out / "a.vcf.gz"), out_tsv=str(out / "v.tsv"),
                 resources=RESOURCES, references={"GRCh38": str(mane_genome)})
    rows = read_tsv(out / "v.tsv")
    assert sorted((r["gene"], r["hgvsp"]) for r in rows) == sorted((g, p) for g, _, p, _ in PUBLISHED)
    assert {r["hgvsc"] for r in rows} >= {c for _, c, _, _ in PUBLISHED if "delins" not in c}
    assert {r["protein_change"] for r in rows} >= {"R1450*", "I1307K", "E1309fs", "D227E", "Q564*"}

    wrong = write_vcf(tmp_path / "w.vcf", [f"{c} {p} . {a} {r} . PASS . GT:AD 0/1:20,10" for c, p, r, a in records[:1]],
                      header=header)
    code = main(["annotate", "--vcf", str(wrong), "--build", "GRCh38", "--reference", str(mane_genome),
                 "--output-vcf", str(tmp_path / "w.vcf.gz"), "--output-tsv", str(tmp_path / "w.tsv")])
    error = capsys.readouterr().err
    assert code == 1 and len(error.strip().splitlines()) == 1, error
    assert f"{wrong}: line 9: REF " in error and "is not the GRCh38 reference sequence" in error
    assert not list(tmp_path.glob("w.vcf.gz*")) and not (tmp_path / "w.tsv").exists()


HCC1395 = SHARED / "reference/vcf/pvactools_hcc1395/annotated.expression.vcf.gz"


@needs_shared
def test_the_naming_rule_on_vep_codons_gives_veps_hgvsp_and_serves_vep_output_without_hgvs(tmp_path: Path) -> None:
    """Every non-frameshift coding change VEP annotated in HCC1395 (MANE transcripts), with
    HGVSp removed as VEP writes it without --hgvs: pgx names it from Codons and
    Protein_position, and the name is VEP's own but where the 3' place lies past VEP's codons."""
    import re

    import cyvcf2

    reader = cyvcf2.VCF(str(HCC1395))
    fields = re.search(r"Format: ([^\"]+)", reader.get_header_type("CSQ")["Description"]).group(1).split("|")
    outcome: dict[str, list[str]] = {"same": [], "unnamed": [], "different": []}
    for record in reader:
        for entry in record.INFO["CSQ"].split(","):
            row = dict(zip(fields, entry.split("|"), strict=True))
            if not (row["MANE_SELECT"] and row["HGVSp"] and row["Codons"]) or "frameshift" in row["Consequence"]:
                continue
            vep = row["HGVSp"].split(":", 1)[1].replace("%3D", "=")
            annotation, _ = _from_vep({**row, "HGVSp": ""})
            key = f"{record.CHROM}:{record.POS} {row['Codons']} {vep}"
            outcome["unnamed" if annotation.hgvsp is None else "same" if annotation.hgvsp == vep else "different"].append(key)
    assert len(outcome["same"]) == 462
    # Inserted bases with no codon around them, a dup of a residue before the codons, and a
    # deletion VEP places past them (DID: Ile329_Asp330del, the codons end at 329).
    assert outcome["unnamed"] == ["chr1:116579677 -/TAG p.Glu1016_Glu1017insTer", "chr6:32223881 cta/ctGCTGCTa p.Leu15_Leu16dup"]
    assert outcome["different"] == ["chrX:71378281 ggAGATATa/gga p.Ile329_Asp330del"]


def test_translating_only_the_touched_codons_equals_translating_the_whole_change() -> None:
    import random

    from pgx.protein import _changed_protein

    rng = random.Random(1)
    for _ in range(5000):
        window = "".join(rng.choice("ACGT") for _ in range(rng.randrange(3, 60)))
        start = rng.randrange(len(window) + 1)
        end = rng.randrange(start, min(len(window), start + 10) + 1)
        alt = "".join(rng.choice("ACGT") for _ in range(rng.randrange(10)))
        whole = translate(window[:start] + alt + window[end:])
        ours = _changed_protein(window, start, end, alt)
        assert ours[:whole.find("*") + 1 or None] == whole[:whole.find("*") + 1 or None]


# RefSeq's 5' UTR lengths of these transcripts (the CDS starts after them; NCBI's annotation,
# as ../shared/data/reference/sequences/SOURCES.md and hgvs-weaver's tests give them).
UTR5 = {"APC": 59, "BARD1": 114, "ALPL": 199, "LDLR": 86}


@pytest.mark.parametrize("gene", sorted(UTR5))
def test_every_coding_snv_is_named_as_the_cdna_says(mane_genome: Path, gene: str) -> None:
    """Every possible single-base substitution in the coding sequence (3 per base, 45,072 in the
    four genes), placed on the genome through the transcript model and annotated from the
    genome, against names computed straight from the RefSeq cDNA: the c. position, the bases,
    and the protein change."""
    genome = Genome(mane_genome, "GRCh38")
    annotator = BuiltinAnnotator(INDEX, genome)
    tx = INDEX.of_gene(gene)
    assert tx is not None
    cdna = (SHARED / f"reference/sequences/hgvs-weaver/{tx.refseq}.seq").read_text().strip()
    coding = cdna[UTR5[gene]:]
    protein = translate(coding)
    length = protein.index("*") + 1
    names = {"*": "Ter", **{one: three for three, one in _ONE.items()}}
    wrong = []
    for c in range(1, 3 * length + 1):
        g = tx.genomic_of_cds(c)
        assert g is not None
        base = coding[c - 1]
        for alt in "ACGT".replace(base, ""):
            codon = (c - 1) // 3
            ref_aa = protein[codon]
            changed = coding[:c - 1] + alt + coding[c:]
            alt_aa = translate(changed[3 * codon:3 * codon + 3])
            n = codon + 1
            if alt_aa == ref_aa:
                expected = f"p.{names[ref_aa]}{n}="
            elif n == 1:
                expected = "p.Met1?"
            elif ref_aa == "*":
                tail = translate(changed[3 * codon:])
                expected = f"p.Ter{n}{names[alt_aa]}extTer{tail.index('*') + 1 if '*' in tail else '?'}"
            elif alt_aa == "*":
                expected = f"p.{names[ref_aa]}{n}Ter"
            else:
                expected = f"p.{names[ref_aa]}{n}{names[alt_aa]}"
            ref_g, alt_g = (base, alt) if tx.strand == "+" else (reverse_complement(base), reverse_complement(alt))
            got = annotator.annotate(Variant(f"chr{tx.chrom}", g, ref_g, alt_g, 1, 0, "PASS", None, None, "", None))
            if (got.hgvsc, got.hgvsp) != (f"c.{c}{base}>{alt}", expected):
                wrong.append(f"c.{c}{base}>{alt}: {got.hgvsc} {got.hgvsp}, expected {expected}")
    assert not wrong, f"{len(wrong)} of {3 * 3 * length}: {wrong[:5]}"


def test_a_grch37_vcf_gets_its_protein_change_from_the_grch38_genome(mane_genome: Path, tmp_path: Path) -> None:
    """GRCh37 input is annotated on the GRCh38 models through liftover: its protein change
    comes from the GRCh38 genome (APC c.4348C>T is 5:112175639 on GRCh37, 5:112839942 on GRCh38)."""
    header = "##fileformat=VCFv4.2\n##contig=<ID=5,length=180915260>\n" \
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n##FORMAT=<ID=AD,Number=R,Type=Integer,Description="AD">\n'
    vcf = write_vcf(tmp_path / "b37.vcf", ["5 112175639 . C T . PASS . GT:AD 0/1:20,10"], header=header)
    annotate_vcf(str(vcf), build="GRCh37", out_vcf=str(tmp_path / "a.vcf.gz"), out_tsv=str(tmp_path / "v.tsv"),
                 resources=RESOURCES, references={"GRCh38": str(mane_genome)})
    (row,) = read_tsv(tmp_path / "v.tsv")
    assert (row["pos"], row["hgvsc"], row["hgvsp"]) == ("112175639", "c.4348C>T", "p.Arg1450Ter")
    assert "via liftover" in row["annotation_note"]


def _until_stop(bases: str, start: int) -> str:
    """The translation of bases[start:] up to and including the first stop."""
    residues = []
    for i in range(start, len(bases) - 2, 3):
        residues.append(translate(bases[i:i + 3]))
        if residues[-1] == "*":
            break
    return "".join(residues)


@pytest.mark.parametrize("gene", sorted(UTR5))
def test_every_one_base_deletion_and_duplication_is_named_as_the_cdna_says(mane_genome: Path, gene: str) -> None:
    """Deleting, and duplicating, each coding base (the two commonest frameshifts), written
    left-aligned on the genome as callers write them: the protein change equals the one the
    RefSeq cDNA gives (first changed residue, new residue, new stop counted from it), whatever
    placement the 3' rule picks; the only ones without it are shifted onto an exon's edge. A
    frameshift the 3' rule moves into the stop codon is an extension (HGVS: 'ext', not 'fs')."""
    genome = Genome(mane_genome, "GRCh38")
    annotator = BuiltinAnnotator(INDEX, genome)
    tx = INDEX.of_gene(gene)
    assert tx is not None
    chrom = f"chr{tx.chrom}"
    cdna = (SHARED / f"reference/sequences/hgvs-weaver/{tx.refseq}.seq").read_text().strip()
    coding = cdna[UTR5[gene]:]
    protein = translate(coding)
    length = protein.index("*") + 1
    names = {"*": "Ter", **{one: three for three, one in _ONE.items()}}
    wrong, at_edges, checked = [], 0, 0
    for c in range(4, 3 * (length - 1) + 1):  # past the start codon, before the stop codon
        for kind, changed in (("del", coding[:c - 1] + coding[c:]), ("dup", coding[:c] + coding[c - 1:])):
            first = (c - 1) // 3
            alt_p = protein[:first] + _until_stop(changed, 3 * first)
            k = next(i for i in range(first, len(alt_p)) if alt_p[i] != protein[i])
            if protein[k] == "*":
                tail = alt_p[k:]
                expected = f"p.Ter{k + 1}{names[alt_p[k]]}extTer{tail.index('*') + 1 if '*' in tail else '?'}"
            elif alt_p[k] == "*":
                expected = f"p.{names[protein[k]]}{k + 1}Ter"
            else:
                tail = alt_p[k:]
                expected = f"p.{names[protein[k]]}{k + 1}{names[alt_p[k]]}fsTer{tail.index('*') + 1 if '*' in tail else '?'}"
            g = tx.genomic_of_cds(c)
            assert g is not None
            if kind == "del":
                pos, ref, alt = genome.shifted(chrom, g - 1, genome.fetch(chrom, g - 2, g), genome.fetch(chrom, g - 2, g - 1),
                                               right=False)
            else:  # the duplicated base inserted after itself (on the genome's strand: before it on the minus strand)
                anchor = g if tx.strand == "+" else g - 1
                base = genome.fetch(chrom, anchor - 1, anchor)
                pos, ref, alt = genome.shifted(chrom, anchor, base, base + genome.fetch(chrom, g - 1, g), right=False)
            got = annotator.annotate(Variant(chrom, pos, ref, alt, 1, 0, "PASS", None, None, "", None))
            checked += 1
            if got.hgvsp is None and got.consequence.startswith(("splice", "intron")):
                at_edges += 1
            elif got.hgvsp != expected:
                wrong.append(f"c.{c}{kind}: {got.hgvsc} {got.hgvsp} {got.consequence}, expected {expected}")
    assert not wrong, f"{len(wrong)} of {checked}: {wrong[:5]}"
    assert at_edges < checked / 50, at_edges


def test_a_wrong_ref_outside_coding_sequence_is_refused_too(mane_genome: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """REFs of records the columnar lane would take (a plain SNV in ALPL's 3' UTR) are checked
    against the genome as well: the right one is annotated, a wrong one refused by line."""
    genome = Genome(mane_genome, "GRCh38")
    base = genome.fetch("chr1", 21577999, 21578000)
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}[base]
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n" \
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n##FORMAT=<ID=AD,Number=R,Type=Integer,Description="AD">\n'
    for name, ref, alt in (("right", base, other), ("wrong", other, base)):
        vcf = write_vcf(tmp_path / f"{name}.vcf", ["chr1 21000000 . A G . PASS . GT:AD 0/1:20,10",
                                                   f"chr1 21578000 . {ref} {alt} . PASS . GT:AD 0/1:20,10"],
                        header=header)
        code = main(["annotate", "--vcf", str(vcf), "--build", "GRCh38", "--reference", f"GRCh38={mane_genome}",
                     "--output-vcf", str(tmp_path / f"{name}.vcf.gz"), "--output-tsv", str(tmp_path / f"{name}.tsv")])
        error = capsys.readouterr().err
        if name == "right":
            assert code == 0, error
            rows = read_tsv(tmp_path / "right.tsv")
            assert [r["consequence"] for r in rows] == ["intron_variant", "3_prime_UTR_variant"]
        else:
            assert code == 1 and f"{vcf}: line 7: REF {other} at chr1:21578000 is not the GRCh38 reference" in error
            assert not (tmp_path / "wrong.tsv").exists()


def test_validate_checks_every_ref_against_the_genome(mane_genome: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    genome = Genome(mane_genome, "GRCh38")
    chrom, pos, ref, alt = vcf_record(genome, "APC", "c.4348C>T")
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr5,length=181538259>\n" \
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
    for name, record in (("right", f"{chrom} {pos} . {ref} {alt} . PASS . GT 0/1"),
                         ("wrong", f"{chrom} {pos} . {alt} {ref} . PASS . GT 0/1")):
        vcf = write_vcf(tmp_path / f"{name}.vcf", [record], header=header)
        code = main(["validate", "--vcf", str(vcf), "--build", "GRCh38", "--reference", str(mane_genome),
                     "-o", str(tmp_path / f"{name}.txt")])
        error = capsys.readouterr().err
        assert (code, (tmp_path / f"{name}.txt").exists()) == ((0, True) if name == "right" else (1, False)), error
    assert f"{tmp_path / 'wrong.vcf'}: line 5: REF T at chr5:112839942 is not the GRCh38 reference sequence (C)" in error
