"""The Snakemake workflow end to end on the demo, its lint, and a dry run at cohort scale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEMO, ROOT, SNAKEMAKE, demo_sheet, needs_shared, run

from pgx.cli import main
from pgx.outputs import read_tsv

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

def test_every_demo_patient_gets_every_output(demo_run: Path) -> None:
    for patient in ("MEL-01", "LUNG-01", "CRC-01"):
        for name in ("annotated.vcf.gz", "annotated.vcf.gz.tbi", "variants.tsv", "matches.tsv",
                     "pharmacogenes.tsv", "report.json", "report.html"):
            assert (demo_run / patient / name).stat().st_size > 0, (patient, name)
    assert (demo_run / "cohort/summary.html").exists() and (demo_run / "cohort/summary.tsv").exists()


def test_melanoma_report_names_braf_v600e_with_a_braf_inhibitor(demo_run: Path) -> None:
    report = json.loads((demo_run / "MEL-01/report.json").read_text())
    first = report["therapeutic"]["sensitivity"][0]
    assert (first["gene"], first["alteration"], first["level"], first["on_label"]) == ("BRAF", "V600E", "A", True)
    inhibitors = ("Vemurafenib", "Dabrafenib", "Encorafenib")
    assert any(d in k["drug"] for k in report["key_findings"] for d in inhibitors)
    html = (demo_run / "MEL-01/report.html").read_text()
    assert "V600E" in html and "Vemurafenib" in html


def test_lung_report_has_egfr_sensitivity_and_t790m_resistance(demo_run: Path) -> None:
    report = json.loads((demo_run / "LUNG-01/report.json").read_text())
    sens = {(m["alteration"], m["therapy"]) for m in report["therapeutic"]["sensitivity"] if m["level"] == "A"}
    assert ("L858R", "Osimertinib") in sens and ("T790M", "Osimertinib") in sens
    resist = {(m["alteration"], m["therapy"]) for m in report["therapeutic"]["resistance"]}
    assert ("T790M", "Erlotinib") in resist
    assert report["qc"]["annotation_sources"] == {"vep_csq": 2}


def test_colorectal_report_names_dpyd_and_flags_fluoropyrimidines(demo_run: Path) -> None:
    report = json.loads((demo_run / "CRC-01/report.json").read_text())
    calls = {c["gene"]: c for c in report["pharmacogenomics"]["calls"]}
    assert calls["DPYD"]["phenotype"] == "Intermediate Metabolizer"
    assert calls["UGT1A1"]["diplotype"] == "*1/*28"
    pgx_findings = [k for k in report["key_findings"] if k["kind"] == "pharmacogenomics"]
    dpyd = [k for k in pgx_findings if k["gene"] == "DPYD"]
    assert len(dpyd) == 1 and "fluorouracil" in dpyd[0]["drug"] and "capecitabine" in dpyd[0]["drug"]
    assert "CPIC Strong" in dpyd[0]["level"]
    assert all("atazanavir" not in k["drug"] for k in pgx_findings)  # not a cancer-care drug
    assert "DPYD" in (demo_run / "CRC-01/report.html").read_text()
    resist = {m["therapy"] for m in report["therapeutic"]["resistance"] if m["level"] == "A"}
    assert "Cetuximab" in resist  # KRAS G12D in colorectal cancer


def test_reports_validate_and_record_versions(demo_run: Path) -> None:
    from pgx.schemas import validate_report

    for path in demo_run.glob("*/report.json"):
        report = json.loads(path.read_text())
        validate_report(report)
        assert report["pipeline"]["version"] and "CIViC 2025-07-01" in report["knowledge_base"]["label"]


def test_rerun_gives_identical_outputs_but_the_timestamp(demo_run: Path, tmp_path: Path) -> None:
    demo_sheet(tmp_path / "samples.tsv")
    assert run(tmp_path, "--cores", "2").returncode == 0
    for name in ("variants.tsv", "matches.tsv", "pharmacogenes.tsv", "guidance.tsv"):
        assert (tmp_path / "results/CRC-01" / name).read_bytes() == (demo_run / "CRC-01" / name).read_bytes()
    a = json.loads((tmp_path / "results/CRC-01/report.json").read_text())
    b = json.loads((demo_run / "CRC-01/report.json").read_text())
    a.pop("generated_at"), b.pop("generated_at")
    assert a == b


def test_lint_is_clean() -> None:
    result = subprocess.run([*SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "SLURM_CONF": "/dev/null"}, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_dry_run_on_1000_patients(tmp_path: Path) -> None:
    demo_sheet(tmp_path / "samples.tsv", copies=334)  # 1,002 patients
    result = run(tmp_path, "-n", "--quiet", "rules", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "report" in result.stdout + result.stderr


def test_bad_sample_sheet_stops_before_any_job(tmp_path: Path) -> None:
    (tmp_path / "samples.tsv").write_text(
        "patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\nP1\tNOPE\t" + str(DEMO / "CRC-01.tumor.vcf") + "\t\tGRCh38\n")
    result = run(tmp_path, "--cores", "1")
    assert result.returncode != 0
    assert "unknown OncoTree code 'NOPE'" in result.stderr
    assert not (tmp_path / "results").exists()


def test_snakemake_report_links_the_final_outputs(demo_run: Path) -> None:
    workdir = demo_run.parent
    result = run(workdir, "--report", str(workdir / "snakemake-report.html"))
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workdir / "snakemake-report.html").read_text()
    for name in ("report.html", "matches.tsv", "pharmacogenes.tsv", "summary.html"):
        assert name in html


def test_final_match_table_flags_drugs_with_pgx_guidance(demo_run: Path) -> None:
    from pgx.outputs import read_tsv

    rows = read_tsv(demo_run / "CRC-01/matches.tsv")
    flagged = {r["therapy"]: r["pgx_guidance"] for r in rows if r["pgx_guidance"]}
    assert "capecitabine (DPYD=1.0 (Intermediate Metabolizer))" in flagged["Capecitabine"]
    # DPWG keys irinotecan by the diplotype *1/*28 and says "NO action is needed": no flag.
    assert "Selumetinib + Irinotecan" not in flagged
    assert all(not r["pgx_guidance"] for r in read_tsv(demo_run / "MEL-01/matches.tsv")
               if "Vemurafenib" == r["therapy"])


def test_tumor_only_and_germline_only_patients(tmp_path: Path) -> None:
    (tmp_path / "samples.tsv").write_text(
        "patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\n"
        f"T1\tSKCM\t{DEMO / 'MEL-01.tumor.vcf'}\t\tGRCh38\n"
        f"G1\tCOAD\t\t{DEMO / 'CRC-01.germline.vcf'}\tGRCh38\n")
    result = run(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    t1 = json.loads((tmp_path / "results/T1/report.json").read_text())
    g1 = json.loads((tmp_path / "results/G1/report.json").read_text())
    assert t1["pharmacogenomics"]["calls"] == [] and t1["therapeutic"]["sensitivity"]
    assert g1["therapeutic"]["sensitivity"] == [] and g1["summary"]["pharmacogenes_called"] == 19
    assert "no germline VCF was given" in (tmp_path / "results/T1/report.html").read_text()
    assert not (tmp_path / "results/G1/annotated.vcf.gz").exists()


def test_germline_brca2_frameshift_is_a_germline_finding(demo_run: Path) -> None:
    report = json.loads((demo_run / "MEL-01/report.json").read_text())
    findings = report["germline_findings"]
    assert findings and all(m["origin"] == "germline" for m in findings)
    olaparib = [m for m in findings if m["therapy"] == "Olaparib" and m["gene"] == "BRCA2"]
    assert olaparib and olaparib[0]["alteration"] == "c.5946del"
    assert not any(m["gene"] == "BRCA2" for m in report["therapeutic"]["sensitivity"])  # not somatic
    html = (demo_run / "MEL-01/report.html").read_text()
    germline_section = html.split('<section id="germline">', 1)[1].split("</section>", 1)[0]
    assert "Olaparib" in germline_section and "BRCA2" in germline_section


def test_cohort_summary_weighs_resistance_and_lists_germline_findings(demo_run: Path) -> None:
    from pgx.outputs import read_tsv

    rows = {r["patient"]: r for r in read_tsv(demo_run / "cohort/summary.tsv")}
    # CRC-01's level-A evidence is anti-EGFR resistance (KRAS G12D): its best level is B.
    assert rows["CRC-01"]["best_level"] == "B" and "DPYD c.1905+1G>A" in rows["CRC-01"]["germline_findings"]
    assert "Erlotinib" in rows["LUNG-01"]["conflicting_therapies"].split(";")
    assert rows["MEL-01"]["germline_findings"] == "BRCA2 c.5946del" and rows["MEL-01"]["best_level"] == "A"


@needs_shared
def test_patients_sharing_one_joint_called_germline_vcf(tmp_path: Path) -> None:
    """Three patients over one real joint-called germline VCF (GeT-RM 30x WGS, three samples):
    the VCF is read once for all three, each patient's pharmacogenes and guidance are its own
    sample's, the same bytes as calling the VCF for that sample alone; a sheet that names no
    germline_sample for a multi-sample VCF is refused before any job."""
    from conftest import SHARED

    from pgx.outputs import read_tsv

    joint = SHARED / "pgx/getrm-wgs/getrm3_pgx_genes.vcf.bgz"
    rows = [("P1", "SKCM", "MEL-01", "NA18526"), ("P2", "LUAD", "LUNG-01", "NA18565"), ("P3", "COAD", "CRC-01", "NA18861")]
    header = "patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\tgermline_sample\n"
    (tmp_path / "samples.tsv").write_text(header + "".join(
        f"{p}\t{t}\t{DEMO / (d + '.tumor.vcf')}\t{joint}\tGRCh38\t{s}\n" for p, t, d, s in rows))
    result = run(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    calls = {p: {r["gene"]: r for r in read_tsv(tmp_path / f"results/{p}/pharmacogenes.tsv")} for p, *_ in rows}
    for patient, _, _, sample in rows:
        assert {r["sample"] for r in calls[patient].values()} == {sample}
        report = json.loads((tmp_path / f"results/{patient}/report.json").read_text())
        assert {c["sample"] for c in report["pharmacogenomics"]["calls"]} == {sample}
    assert calls["P1"]["SLCO1B1"]["diplotype"] != calls["P2"]["SLCO1B1"]["diplotype"]  # three people, not one
    (once,) = (tmp_path / "results/germline").glob("*/pharmacogenes.tsv")
    assert {r["sample"] for r in read_tsv(once)} == {"NA18526", "NA18565", "NA18861"}
    assert len(list((tmp_path / "benchmarks/germline").glob("*.variants.tsv"))) == 1
    assert len(list((tmp_path / "benchmarks/germline").glob("*.tsv"))) == 2  # calls and variants, once each
    alone = tmp_path / "alone"
    assert main(["diplotypes", "--vcf", str(joint), "--sample", "NA18565", "--matches",
                 str(tmp_path / "results/P2/match/somatic_matches.tsv"), "--output", str(alone / "calls.tsv"),
                 "--output-guidance", str(alone / "guidance.tsv")]) == 0
    assert (alone / "calls.tsv").read_bytes() == (tmp_path / "results/P2/pharmacogenes.tsv").read_bytes()
    assert (alone / "guidance.tsv").read_bytes() == (tmp_path / "results/P2/guidance.tsv").read_bytes()
    unnamed = tmp_path / "unnamed"
    unnamed.mkdir()
    (unnamed / "samples.tsv").write_text(header.replace("\tgermline_sample", "") +
                                         f"P1\tSKCM\t{DEMO / 'MEL-01.tumor.vcf'}\t{joint}\tGRCh38\n")
    refused = run(unnamed, "--cores", "1")
    assert refused.returncode != 0 and "has 3 samples: name the patient's in the germline_sample column" in refused.stderr
    assert not (unnamed / "results").exists()


def test_the_workflow_runs_as_a_module_of_another_workflow(demo_run: Path, tmp_path: Path) -> None:
    """As snakedeploy would deploy it: a host workflow elsewhere that uses every rule of pgx's
    workflow/Snakefile as a module, with its own config and sample sheet; the results equal the
    checkout's own run."""
    import yaml

    demo_sheet(tmp_path / "samples.tsv")
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["samples"] = "samples.tsv"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n\n'
        f'module pgx:\n    snakefile:\n        "{ROOT / "workflow/Snakefile"}"\n    config:\n        config\n\n\n'
        "use rule * from pgx\n")
    result = subprocess.run([*SNAKEMAKE[:3], "--directory", str(tmp_path), "-s", str(tmp_path / "Snakefile"),
                             "--cores", "2", "all"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "SLURM_CONF": "/dev/null"}, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    for patient in ("MEL-01", "LUNG-01", "CRC-01"):
        for name in ("variants.tsv", "matches.tsv", "pharmacogenes.tsv", "guidance.tsv"):
            assert (tmp_path / "results" / patient / name).read_bytes() == (demo_run / patient / name).read_bytes()
    assert (tmp_path / "results/cohort/summary.html").exists()


def test_snakefmt_is_clean() -> None:
    snakefmt = pytest.importorskip("snakefmt")
    assert snakefmt
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", str(ROOT / "workflow")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_configured_reference_genome_is_an_input_and_gives_protein_changes(tmp_path: Path, mane_genome: Path) -> None:
    demo_sheet(tmp_path / "samples.tsv")
    missing = tmp_path / "absent/GRCh38.fa"
    result = run(tmp_path, f'reference={{"GRCh38": "{missing}"}}', "--cores", "1")
    assert result.returncode != 0 and "MissingInputException" in result.stdout + result.stderr
    assert str(missing) in result.stdout + result.stderr and not (tmp_path / "results").exists()
    result = run(tmp_path, f'reference={{"GRCh38": "{mane_genome}"}}', "--cores", "1", "results/CRC-01/variants.tsv")
    assert result.returncode == 0, result.stderr[-3000:]
    (apc,) = [r for r in read_tsv(tmp_path / "results/CRC-01/variants.tsv") if r["gene"] == "APC"]
    assert (apc["hgvsc"], apc["hgvsp"], apc["consequence"]) == ("c.4348C>T", "p.Arg1450Ter", "stop_gained")
    qc = json.loads((tmp_path / "results/CRC-01/annotate_qc.json").read_text())
    # The test genome holds chr1, chr2, chr5 and chr19: the KRAS and TP53 records are not checked.
    assert qc["left_aligned"] and qc["notes"] == ["REF of 2 records not checked: their contigs are not in the reference FASTA"]


def test_a_cohort_joint_vcf_gives_germline_findings_only_to_its_carrier(tmp_path: Path, joint_demo_germline: Path) -> None:
    """The demo patients over one joint germline VCF (the three demo VCFs merged): MEL-01's
    BRCA2 frameshift is MEL-01's germline finding only; the others are ./. there."""
    rows = [("MEL-01", "SKCM"), ("LUNG-01", "LUAD"), ("CRC-01", "COAD")]
    header = "patient\ttumor_type\ttumor_vcf\tgermline_vcf\tbuild\tgermline_sample\n"
    (tmp_path / "samples.tsv").write_text(header + "".join(
        f"{p}\t{t}\t{DEMO / (p + '.tumor.vcf')}\t{joint_demo_germline}\tGRCh38\t{p}-N\n" for p, t in rows))
    result = run(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    for patient, _ in rows:
        findings = json.loads((tmp_path / f"results/{patient}/report.json").read_text())["germline_findings"]
        brca2 = any(m["gene"] == "BRCA2" and m["therapy"] == "Olaparib" for m in findings)
        assert brca2 == (patient == "MEL-01"), patient
    (variants,) = (tmp_path / "results/germline").glob("*/germline_variants.tsv")
    assert {r["sample"] for r in read_tsv(variants) if r["gene"] == "BRCA2"} == {"MEL-01-N"}
