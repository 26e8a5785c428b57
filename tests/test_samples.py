from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_vcf

from pgx.errors import PgxInputError
from pgx.ontology import Ontology
from pgx.samples import read_sheet

HEADER = "patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\n"


def sheet(tmp_path: Path, *rows: str) -> Path:
    write_vcf(tmp_path / "t.vcf", ["chr1 100 . A G . PASS . GT 0/1"], samples=("T1", "N1"))
    write_vcf(tmp_path / "g.vcf", ["chr1 100 . A G . PASS . GT 0/1"], samples=("S1", "S2"))
    path = tmp_path / "samples.tsv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


@pytest.mark.parametrize("row,message", [
    ("P1\tLUAD\t{d}/t.vcf\t\tGRCh38\nP1\tLUAD\t{d}/t.vcf\t\tGRCh38", "duplicate patient 'P1'"),
    ("P1\tXYZQ\t{d}/t.vcf\t\tGRCh38", "unknown OncoTree code 'XYZQ'"),
    ("P1\tLUAD\t{d}/t.vcf\t\thg19", "build 'hg19' for P1 must be GRCh37 or GRCh38"),
    ("P1\tLUAD\t{d}/missing.vcf\t\tGRCh38", "tumor_vcf of P1 does not exist"),
    ("P1\tLUAD\t\t\tGRCh38", "neither tumor_vcf nor germline_vcf"),
    ("../x\tLUAD\t{d}/t.vcf\t\tGRCh38", "patient id '../x'"),
    ("P1\tLUAD\t{d}/t.vcf\t\tGRCh38\np1\tLUAD\t{d}/t.vcf\t\tGRCh38", "patient ids differing only by case: 'P1' and 'p1'"),
    ("Cohort\tLUAD\t{d}/t.vcf\t\tGRCh38", "patient id 'Cohort' is reserved"),
    ("P1\tLUAD\t{d}/t.vcf\tGRCh38", "4 cells, the header names 5 columns"),
    ("P1\tLUAD\t\t{d}/g.vcf\tGRCh38", "germline_vcf of P1 has 2 samples: name the patient's in the germline_sample"),
])
def test_bad_sheets_name_row_and_problem(tmp_path: Path, ontology: Ontology, row: str, message: str) -> None:
    path = sheet(tmp_path, row.format(d=tmp_path))
    with pytest.raises(PgxInputError) as err:
        read_sheet(path, ontology)
    assert message in str(err.value) and str(path) in str(err.value) and "line" in str(err.value)


@pytest.mark.parametrize("header,row,message", [
    ("patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\tbuild", "P1\tLUAD\t{d}/t.vcf\t\tGRCh38\tGRCh37",
     "column(s) named twice: build"),
    ("patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\tgermline_sample", "P1\tLUAD\t\t{d}/g.vcf\tGRCh38\tS3",
     "germline_sample 'S3' of P1 is not a sample of"),
    ("patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\ttumor_sample", "P1\tLUAD\t{d}/t.vcf\t\tGRCh38\tTX",
     "tumor_sample 'TX' of P1 is not a sample of"),
])
def test_sheets_refused_before_any_job(tmp_path: Path, ontology: Ontology, header: str, row: str,
                                       message: str) -> None:
    path = sheet(tmp_path)
    path.write_text(header + "\n" + row.format(d=tmp_path) + "\n")
    with pytest.raises(PgxInputError) as err:
        read_sheet(path, ontology)
    assert message in str(err.value) and str(path) in str(err.value)


def test_a_sheet_that_is_not_utf8_is_refused(tmp_path: Path, ontology: Ontology) -> None:
    path = sheet(tmp_path, f"P1\tLUAD\t{tmp_path}/t.vcf\t\tGRCh38")
    path.write_bytes(path.read_bytes().replace(b"P1", b"P\xff1"))
    with pytest.raises(PgxInputError, match="line 2: sample sheet is not UTF-8 text"):
        read_sheet(path, ontology)


def test_good_sheet(tmp_path: Path, ontology: Ontology) -> None:
    (patient,) = read_sheet(sheet(tmp_path, f"P1\tLUAD\t{tmp_path}/t.vcf\t\tGRCh38"), ontology)
    assert (patient.patient, patient.tumor_type, patient.germline_vcf) == ("P1", "LUAD", "")


def test_lung_adenocarcinoma_lineage_reaches_nsclc(ontology: Ontology) -> None:
    luad = ontology.tumor_type("LUAD")
    assert luad.lineage[:3] == ("LUAD", "NSCLC", "LUNG")
    assert ontology.relation("DOID:3908", "Lung Non-small Cell Carcinoma", luad) == "ancestor"
    sclc = ontology.tumor_type("SCLC")
    assert ontology.relation("DOID:1324", "Lung Cancer", sclc) == "ancestor"  # lung cancer contains SCLC
    assert ontology.relation("DOID:3908", "Lung Non-small Cell Carcinoma", sclc) == "same_tissue"
    assert ontology.relation("DOID:162", "Cancer", luad) == "pan_cancer"
