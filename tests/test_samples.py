from __future__ import annotations

from pathlib import Path

import pytest

from pgx.errors import PgxInputError
from pgx.ontology import Ontology
from pgx.samples import read_sheet

HEADER = "patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\n"


def sheet(tmp_path: Path, *rows: str) -> Path:
    (tmp_path / "t.vcf").write_text("x")
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
])
def test_bad_sheets_name_row_and_problem(tmp_path: Path, ontology: Ontology, row: str, message: str) -> None:
    path = sheet(tmp_path, row.format(d=tmp_path))
    with pytest.raises(PgxInputError) as err:
        read_sheet(path, ontology)
    assert message in str(err.value) and str(path) in str(err.value) and "line" in str(err.value)


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
