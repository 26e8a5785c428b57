"""Germline findings from a cohort's joint-called VCF: read once for every sample
(`pgx germline-variants`), each patient matched from its own sample's rows (`pgx germline
--variants`), the same bytes as reading the VCF for that sample; a sample carries only the
alleles its genotype calls, so a no-call (./.) at a neighbour's BRCA2 frameshift is no finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DEMO

from pgx.cli import main
from pgx.outputs import read_tsv

PATIENTS = {"MEL-01-N": "SKCM", "LUNG-01-N": "LUAD", "CRC-01-N": "COAD"}


def test_a_joint_vcf_read_once_gives_each_sample_its_own_findings(joint_demo_germline: Path, tmp_path: Path) -> None:
    table = tmp_path / "cohort.tsv"
    assert main(["germline-variants", "--vcf", str(joint_demo_germline), "--build", "GRCh38", "--output", str(table)]) == 0
    rows = read_tsv(table)
    assert {r["sample"] for r in rows} <= set(PATIENTS)
    brca2 = [r for r in rows if r["gene"] == "BRCA2" and r["hgvsc"] == "c.5946del"]
    assert [r["sample"] for r in brca2] == ["MEL-01-N"]  # ./. for the other two
    for sample, tumor in PATIENTS.items():
        outputs = {}
        for name, source in (("table", ["--variants", str(table)]), ("vcf", ["--vcf", str(joint_demo_germline)])):
            out = tmp_path / f"{sample}.{name}.tsv"
            assert main(["germline", *source, "--sample", sample, "--tumor-type", tumor, "--build", "GRCh38",
                         "--output", str(out)]) == 0
            outputs[name] = out.read_bytes()
        assert outputs["table"] == outputs["vcf"], sample
        matches = read_tsv(tmp_path / f"{sample}.table.tsv")
        olaparib = any(m["gene"] == "BRCA2" and m["therapy"] == "Olaparib" for m in matches)
        assert olaparib == (sample == "MEL-01-N"), sample
    # The same findings as the patient's own single-sample VCF.
    assert main(["germline", "--vcf", str(DEMO / "MEL-01.germline.vcf"), "--tumor-type", "SKCM", "--build", "GRCh38",
                 "--output", str(tmp_path / "alone.tsv")]) == 0
    assert (tmp_path / "alone.tsv").read_bytes() == (tmp_path / "MEL-01-N.table.tsv").read_bytes()


def test_a_joint_vcf_without_a_named_sample_is_refused_naming_the_option(joint_demo_germline: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["germline", "--vcf", str(joint_demo_germline), "--tumor-type", "SKCM", "--build", "GRCh38",
                 "--output", str(tmp_path / "m.tsv")]) == 1
    error = capsys.readouterr().err
    assert "3 samples ['MEL-01-N', 'LUNG-01-N', 'CRC-01-N']: name the germline one with --sample" in error
    assert not (tmp_path / "m.tsv").exists()
