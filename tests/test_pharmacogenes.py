from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import DEMO, RESOURCES, SHARED, needs_shared, with_final_newline, write_vcf

from pgx.pharmacogenes import Call, call_vcf, guidance, load_recommendations

CASES = Path(__file__).parent / "cases/pharmacogenes/pharmcat_cases.tsv"


def _cases() -> list[dict[str, str]]:
    with open(CASES, encoding="utf-8") as handle:
        return list(csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t"))


def one(vcf: Path | str, gene: str, **kw: object) -> Call:
    calls = call_vcf(str(vcf), RESOURCES, genes=[gene], **kw)  # type: ignore[arg-type]
    assert len(calls) == 1
    return calls[0]


@needs_shared
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["file"])
def test_pharmcat_test_vcfs(case: dict[str, str], tmp_path: Path) -> None:
    call = one(with_final_newline(SHARED / "pgx/pharmcat-tests" / case["file"], tmp_path), case["gene"])
    assert (call.diplotype, call.status) == (case["diplotype"], case["status"]), case["behaviour"]
    assert call.phenotype == case["phenotype"]
    assert call.activity_score == case["activity_score"]


@needs_shared
def test_missing_positions_are_listed_never_reference() -> None:
    call = one(SHARED / "pgx/pharmcat-tests/PharmCATTest-cyp2c19MissingPositions.vcf", "CYP2C19")
    assert len(call.missing) == 16 and call.tested == 35 and not call.assumed_reference
    assert "16 of 35 positions missing" in "; ".join(call.notes)


@needs_shared
@pytest.mark.parametrize("gene", ["CYP2C19", "CYP2C9"])
def test_na12878_matches_published_calls(gene: str) -> None:
    call = one(SHARED / f"pgx/1kgp/GRCh38/{gene}.vcf.gz", gene, samples=["NA12878"], missing_as_reference=True)
    assert call.diplotype == "*1/*2"
    assert call.assumed_reference  # a variant-only panel: the output says so


@needs_shared
def test_cohort_vcf_is_called_in_one_pass() -> None:
    calls = call_vcf(str(SHARED / "pgx/1kgp/GRCh38/TPMT.vcf.gz"), RESOURCES, genes=["TPMT"], missing_as_reference=True)
    assert len(calls) == 3202
    share = sum(c.diplotype == "*1/*1" for c in calls) / len(calls)
    assert 0.85 < share < 0.99  # TPMT *1/*1 is the large majority in every population


# Synthetic VCFs at the real UGT1A1 positions: *80 is rs887829 (233759924 C>T),
# *28 the TA repeat at 233760233 (CAT>CATAT). The other two positions are reference.
UGT1A1 = [("chr2", 233759924, "C", "T"), ("chr2", 233760233, "CAT", "CATAT"),
          ("chr2", 233760498, "G", "A"), ("chr2", 233760973, "C", "A")]
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr2,length=242193529>\n##contig=<ID=chrX,length=156040895>\n" \
         '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n##FORMAT=<ID=PS,Number=1,Type=Integer,Description="PS">\n'


def ugt1a1(tmp_path: Path, gts: list[str], fmt: str = "GT") -> Path:
    records = [f"{c} {p} . {r} {a} . PASS . {fmt} {gt}" for (c, p, r, a), gt in zip(UGT1A1, gts, strict=True)]
    return write_vcf(tmp_path / "u.vcf", records, samples=("S",), header=HEADER)


def test_phased_strands_are_matched_one_by_one(tmp_path: Path) -> None:
    cis = one(ugt1a1(tmp_path, ["0|1", "0|1", "0|0", "0|0"]), "UGT1A1")
    assert (cis.diplotype, cis.phased) == ("*1/*80+*28", True)
    trans = one(ugt1a1(tmp_path, ["0|1", "1|0", "0|0", "0|0"]), "UGT1A1")
    assert trans.diplotype == "*28/*80"


def test_unphased_uses_the_score_and_two_phase_sets_are_unphased(tmp_path: Path) -> None:
    unphased = one(ugt1a1(tmp_path, ["0/1", "0/1", "0/0", "0/0"]), "UGT1A1")
    assert (unphased.diplotype, unphased.phased) == ("*1/*80+*28", False)
    blocks = one(ugt1a1(tmp_path, ["0|1:1", "1|0:2", "0/0:.", "0/0:."], fmt="GT:PS"), "UGT1A1")
    assert blocks.phased is False and blocks.diplotype == "*1/*80+*28"
    same = one(ugt1a1(tmp_path, ["0|1:7", "1|0:7", "0/0:.", "0/0:."], fmt="GT:PS"), "UGT1A1")
    assert same.phased is True and same.diplotype == "*28/*80"


def test_partial_genotype_is_missing(tmp_path: Path) -> None:
    call = one(ugt1a1(tmp_path, ["0/.", "0/0", "0/0", "0/0"]), "UGT1A1")
    assert [p.pos for p in call.missing] == [233759924]


def test_ta_repeat_written_with_a_shorter_ref_is_recognised(tmp_path: Path) -> None:
    records = ["chr2 233759924 . C . . PASS . GT 0/0", "chr2 233760233 . C CAT . PASS . GT 0/1",
               "chr2 233760498 . G . . PASS . GT 0/0", "chr2 233760973 . C . . PASS . GT 0/0"]
    vcf = write_vcf(tmp_path / "r.vcf", records, samples=("S",), header=HEADER)
    assert one(vcf, "UGT1A1").diplotype == "*1/*28"


def test_undocumented_allele_outside_toxicity_genes_is_not_called(tmp_path: Path) -> None:
    call = one(ugt1a1(tmp_path, ["0/0", "0/0", "0/0", "0/0"]), "UGT1A1")
    assert call.status == "called"
    records = ["chr2 233759924 . C G . PASS . GT 0/1", "chr2 233760233 . CAT . . PASS . GT 0/0",
               "chr2 233760498 . G . . PASS . GT 0/0", "chr2 233760973 . C . . PASS . GT 0/0"]
    vcf = write_vcf(tmp_path / "x.vcf", records, samples=("S",), header=HEADER)
    odd = one(vcf, "UGT1A1")
    assert odd.status == "not_called" and "undocumented allele" in odd.notes[0]


def test_missing_as_reference_is_explicit(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "v.vcf", ["chr2 233760233 . CAT CATAT . PASS . GT 1/1"], samples=("S",), header=HEADER)
    default = one(vcf, "UGT1A1")
    assert len(default.missing) == 3
    assumed = one(vcf, "UGT1A1", missing_as_reference=True)
    assert (assumed.diplotype, assumed.assumed_reference) == ("*28/*28", True)
    assert "taken as reference" in "; ".join(assumed.notes)


def test_chrx_haploid_g6pd(tmp_path: Path) -> None:
    # G6PD A- 202A_376G: rs1050828 (chrX:154536002 C>T) with rs1050829 (chrX:154535277 T>C).
    records = ["chrX 154535277 . T C . PASS . GT 1", "chrX 154536002 . C T . PASS . GT 1"]
    vcf = write_vcf(tmp_path / "g.vcf", records, samples=("M",), header=HEADER)
    call = one(vcf, "G6PD", missing_as_reference=True)
    assert "/" not in call.diplotype and call.diplotype.startswith("A- 202A_376G")
    assert call.phenotype == "Deficient"


def test_grch37_germline_gives_the_grch38_call(tmp_path: Path) -> None:
    # UGT1A1*28 (TA repeat): GRCh37 2:234668879, GRCh38 2:233760233.
    b37 = write_vcf(tmp_path / "b37.vcf", ["2 234668879 . CAT CATAT . PASS . GT 0/1"], samples=("S",),
                    header="##fileformat=VCFv4.2\n##contig=<ID=2,length=243199373>\n" + HEADER.split("\n", 3)[3])
    b38 = write_vcf(tmp_path / "b38.vcf", ["chr2 233760233 . CAT CATAT . PASS . GT 0/1"], samples=("S",),
                    header="##fileformat=VCFv4.2\n##contig=<ID=chr2,length=242193529>\n" + HEADER.split("\n", 3)[3])
    grch37 = call_vcf(str(b37), RESOURCES, genes=["UGT1A1"], build="GRCh37", missing_as_reference=True)[0]
    grch38 = call_vcf(str(b38), RESOURCES, genes=["UGT1A1"], build="GRCh38", missing_as_reference=True)[0]
    assert (grch37.diplotype, grch37.phenotype) == (grch38.diplotype, grch38.phenotype) == ("*1/*28", "Intermediate Metabolizer")


@needs_shared
def test_dpyd_on_the_grch37_1000_genomes_panel_counts_hapb3_once() -> None:
    from pgx.pharmacogenes import call_vcf as call

    calls = call(str(SHARED / "pgx/1kgp/GRCh37/DPYD.vcf.gz"), RESOURCES, genes=["DPYD"], build="GRCh37",
                 missing_as_reference=True)
    assert len(calls) == 2504 and all(c.status == "called" for c in calls)
    hapb3 = "c.1129-5923C>G, c.1236G>A (HapB3)"
    single = [c for c in calls if c.diplotype.startswith("Reference/") and hapb3 in c.diplotype]
    # HapB3 and its intronic variant on one chromosome count once: activity 1.5, never 1.0.
    assert len(single) >= 25 and {c.activity_score for c in single} == {"1.5"}


def test_demo_colorectal_patient_gets_fluoropyrimidine_caution() -> None:
    calls = call_vcf(str(DEMO / "CRC-01.germline.vcf"), RESOURCES)
    by_gene = {c.gene: c for c in calls}
    assert by_gene["DPYD"].diplotype == "Reference/c.1905+1G>A (*2A)"
    assert (by_gene["DPYD"].activity_score, by_gene["DPYD"].phenotype) == ("1.0", "Intermediate Metabolizer")
    assert by_gene["UGT1A1"].diplotype == "*1/*28"
    rows = guidance(calls, load_recommendations(RESOURCES), proposed_drugs={"capecitabine"})
    assert rows[0]["drug"] == "capecitabine" and rows[0]["proposed_by_matching"]
    cpic = [r for r in rows if r["drug"] == "fluorouracil" and r["source"] == "CPIC"]
    assert cpic and cpic[0]["classification"] == "Strong" and cpic[0]["caution"]
    assert "50%" in str(cpic[0]["recommendation"])


def test_thiopurines_combine_tpmt_and_nudt15() -> None:
    calls = call_vcf(str(DEMO / "LUNG-01.germline.vcf"), RESOURCES)
    rows = [r for r in guidance(calls, load_recommendations(RESOURCES), set()) if r["drug"] == "mercaptopurine" and r["source"] == "CPIC"]
    assert rows and rows[0]["lookup_key"] == "NUDT15=Normal Metabolizer;TPMT=Intermediate Metabolizer"


NAT2_CASES = Path(__file__).parent / "cases/pharmacogenes/nat2_pharmcat.tsv"


def _nat2_vcf(path: Path, genotypes: dict[str, str], missing: set[str]) -> Path:
    from pgx.pharmacogenes import load_definitions

    lines = []
    for p in load_definitions(RESOURCES)["NAT2"].positions:
        if p.rsid in missing:
            continue
        alleles = [p.ref, *p.alts]
        a, b = genotypes.get(p.rsid, f"{p.ref}/{p.ref}").split("/")
        lines.append(f"{p.chrom} {p.pos} {p.rsid or '.'} {p.ref} {','.join(p.alts) or '.'} . PASS . GT "
                     f"{alleles.index(a)}/{alleles.index(b)}")
    return write_vcf(path, lines, samples=("S",), header="##fileformat=VCFv4.2\n##contig=<ID=chr8,length=145138636>\n"
                     '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n')


def _nat2_cases() -> list[dict[str, str]]:
    from pgx.outputs import read_tsv

    return read_tsv(NAT2_CASES)


@pytest.mark.parametrize("case", _nat2_cases(), ids=lambda c: c["case"])
def test_nat2_against_pharmcat_expectations(tmp_path: Path, case: dict[str, str]) -> None:
    genotypes = {rs: case[rs] for rs in ("rs1801279", "rs1801280", "rs1799930", "rs1208", "rs1799931")}
    vcf = _nat2_vcf(tmp_path / "nat2.vcf", genotypes, set(filter(None, case["missing"].split(","))))
    call = one(vcf, "NAT2")
    expected = set(case["candidates"].split(" or "))
    if case["candidates"] == "not called":
        assert call.status == "not_called" and not call.diplotype
    elif case["pick"]:
        assert (call.diplotype, call.status) == (case["pick"], "called")
        note = next(n for n in call.notes if n.startswith("unphased: candidates "))
        listed = note.removeprefix("unphased: candidates ").split(" (best score first)")[0]
        # Every PharmCAT candidate is listed; in 6 of the 75 cases pgx also lists one more,
        # made of an allele defined at a missing position (PharmCAT drops it).
        assert expected <= set(listed.split(" | "))
    else:
        assert set(call.diplotype.split(" OR ")) == expected


def test_nat2_is_not_called_without_a_required_position(tmp_path: Path) -> None:
    vcf = _nat2_vcf(tmp_path / "nat2.vcf", {"rs1801280": "T/C"}, {"rs1208"})
    call = one(vcf, "NAT2")
    assert call.status == "not_called" and "required position(s) rs1208 missing" in "; ".join(call.notes)


DPYD_CASES = Path(__file__).parent / "cases/pharmacogenes/dpyd_pharmcat.tsv"


def _dpyd_cases() -> list[dict[str, str]]:
    from pgx.outputs import read_tsv

    return read_tsv(DPYD_CASES)


def _dpyd_vcf(path: Path, spec: str, phased: bool, gene: str = "DPYD", contig: str = "chr1") -> Path:
    """The gene's definition positions with the spec's genotypes (rsid=a/b;...), every other
    position 0/0, as PharmCAT's TestVcfBuilder writes a gene it is given."""
    from pgx.pharmacogenes import load_definitions

    wanted = dict(part.split("=") for part in spec.split(";") if part)
    sep = "|" if phased else "/"
    lines = []
    for p in load_definitions(RESOURCES)[gene].positions:
        if wanted.get(p.rsid) == "missing":
            continue
        alleles = [p.ref, *p.alts]
        pair = wanted.get(p.rsid, f"{p.ref}/{p.ref}").split("/")
        codes = ["." if b == "." else str(alleles.index(b)) if b in alleles else str(len(alleles)) for b in pair]
        alts = list(p.alts) + [b for b in pair if b not in alleles and b != "."]
        lines.append(f"{p.chrom} {p.pos} {p.rsid or '.'} {p.ref} {','.join(alts) or '.'} . PASS . GT {sep.join(codes)}")
    return write_vcf(path, lines, samples=("S",), header="##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n"
                     '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n')


@pytest.mark.parametrize("case", _dpyd_cases(), ids=lambda c: c["case"])
def test_dpyd_against_pharmcat_expectations(tmp_path: Path, case: dict[str, str]) -> None:
    call = one(_dpyd_vcf(tmp_path / "dpyd.vcf", case["genotypes"], case["phased"] == "yes"), "DPYD")
    assert call.status == "called"
    assert call.diplotype == case["diplotype"]
    lowest = next(n for n in call.notes if n.startswith("looked up by the two lowest-function alleles: "))
    assert sorted(lowest.split(": ", 1)[1].split("; ")) == sorted(case["lowest"].split(";"))
    if case["activity_score"]:
        assert call.activity_score == case["activity_score"]


def test_dpyd_half_call_is_kept_and_flagged(tmp_path: Path) -> None:
    call = one(_dpyd_vcf(tmp_path / "dpyd.vcf", "rs56038477=./T;rs75017182=./C", False), "DPYD")
    assert (call.activity_score, call.phenotype) == ("1.5", "Intermediate Metabolizer")
    assert any(n.startswith("uncertain: half-called genotype") for n in call.notes)


def test_slco1b1_sub_alleles_are_reported_as_their_core_allele(tmp_path: Path) -> None:
    from pgx.pharmacogenes import load_definitions

    gene = load_definitions(RESOURCES)["SLCO1B1"]
    star45 = next(a for a in gene.alleles if a.name == "*45.001")
    lines = []
    for p in gene.positions:
        alleles = [p.ref, *p.alts]
        gt = f"0/{alleles.index(next(b for b in alleles if b in star45.defined[p.pos]))}" if p.pos in star45.defined else "0/0"
        lines.append(f"{p.chrom} {p.pos} {p.rsid or '.'} {p.ref} {','.join(p.alts) or '.'} . PASS . GT {gt}")
    vcf = write_vcf(tmp_path / "s.vcf", lines, samples=("S",), header="##fileformat=VCFv4.2\n##contig=<ID=chr12,length=133275309>\n"
                    '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n')
    call = one(vcf, "SLCO1B1")
    assert (call.diplotype, call.phenotype, call.status) == ("*1/*45", "Decreased Function", "called")
    statins = [r for r in guidance([call], load_recommendations(RESOURCES), set()) if r["drug"] == "simvastatin"]
    assert statins and all("SLCO1B1=Decreased Function" in r["lookup_key"] for r in statins if r["source"] == "CPIC")


def _ryr1_cases() -> list[dict[str, str]]:
    from pgx.outputs import read_tsv

    return read_tsv(Path(__file__).parent / "cases/pharmacogenes/ryr1_pharmcat.tsv")


# PharmCAT's RYR1 data since December 2023 calls c.97A>G and c.14918C>T malignant-hyperthermia
# associated; the bundled data (the newest the shared data holds) lists neither, so pgx looks up
# c.97A>G and c.152C>A (the first two by position) instead.
RYR1_KNOWN_DIFFERENCES = {"cacna1sMissing_ryr1Het4"}


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="RYR1 function data older than PharmCAT's"))
    if c["case"] in RYR1_KNOWN_DIFFERENCES else c for c in _ryr1_cases()], ids=lambda c: c["case"])
def test_ryr1_against_pharmcat_expectations(tmp_path: Path, case: dict[str, str]) -> None:
    vcf = _dpyd_vcf(tmp_path / "ryr1.vcf", case["genotypes"], case["phased"] == "yes", gene="RYR1", contig="chr19")
    call = one(vcf, "RYR1")
    assert call.status == "called" and call.diplotype == case["diplotype"]
    lowest = next(n for n in call.notes if n.startswith("looked up by the two lowest-function alleles: "))
    assert sorted(lowest.split(": ", 1)[1].split("; ")) == sorted(case["lowest"].split(";"))


def _toxic_cftr_cases() -> list[dict[str, str]]:
    from pgx.outputs import read_tsv

    return read_tsv(Path(__file__).parent / "cases/pharmacogenes/toxic_cftr_pharmcat.tsv")


# The bundled RYR1 function data (older than PharmCAT's December 2023 update) calls c.7522C>G
# malignant-hyperthermia associated; PharmCAT's test expects "Uncertain Susceptibility".
TOXIC_KNOWN_DIFFERENCES = {("cacna1sHet_ryr1Het", "RYR1")}


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="RYR1 function data older than PharmCAT's"))
    if (c["case"], c["gene"]) in TOXIC_KNOWN_DIFFERENCES else c for c in _toxic_cftr_cases()],
    ids=lambda c: f"{c['case']}-{c['gene']}")
def test_toxic_genes_and_cftr_against_pharmcat_expectations(tmp_path: Path, case: dict[str, str]) -> None:
    from pgx.pharmacogenes import load_definitions

    vcf = _dpyd_vcf(tmp_path / "gene.vcf", case["genotypes"], False, gene=case["gene"])
    call = one(vcf, case["gene"])
    assert call.status == "called", call.notes
    reference = load_definitions(RESOURCES)[case["gene"]].reference.name
    # CFTR's reference is labelled 'Reference' as PharmCAT displays it; looked up by its name.
    alleles = [reference if a == "Reference" else a for a in call.diplotype.split("/")]
    assert sorted(alleles) == sorted(case["alleles"].split(";"))
    if case["phenotype"]:
        assert call.phenotype == case["phenotype"]


def _pipeline_cases() -> list[dict[str, str]]:
    from pgx.outputs import read_tsv

    return read_tsv(Path(__file__).parent / "cases/pharmacogenes/pipeline_pharmcat.tsv")


def _printed_calls(call: Call) -> list[str]:
    """pgx's diplotype as PharmCAT prints its calls: ambiguous results and unphased DPYD
    variant lists one by one ('(homozygous)' is pgx's note on a list entry)."""
    if " OR " in call.diplotype:
        return call.diplotype.split(" OR ")
    if " | " in call.diplotype:
        return [c.removesuffix(" (homozygous)") for c in call.diplotype.split(" | ")]
    return [call.diplotype]


@pytest.mark.parametrize("case", _pipeline_cases(), ids=lambda c: c["case"])
def test_pipeline_calls_against_pharmcat_expectations(tmp_path: Path, case: dict[str, str]) -> None:
    vcf = _dpyd_vcf(tmp_path / "gene.vcf", case["genotypes"], case["phased"] == "yes", gene=case["gene"])
    call = one(vcf, case["gene"])
    if case["calls"] == "not called":
        assert call.status == "not_called", (call.diplotype, call.notes)
        return
    assert call.status in ("called", "ambiguous"), call.notes
    assert sorted(_printed_calls(call)) == sorted(case["calls"].split(";")), call.notes
