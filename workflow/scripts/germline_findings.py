# Snakemake adapter: germline variants relevant to therapy (e.g. BRCA1/2 for PARP inhibitors).
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, reference_options, run_step

s = snakemake  # noqa: F821
# A VCF that several patients share was read once for all of them (rule germline_cohort_variants).
source = ["--variants", s.input.variants] if s.input.get("variants") else ["--vcf", s.input.vcf]
run_step(s, ["--resources", s.params.resources, "germline", *source,
             "--tumor-type", s.params.sheet["tumor_type"], "--build", s.params.sheet["build"],
             *optional("--sample", s.params.sheet["germline_sample"]),
             *reference_options(s.params.reference, s.params.sheet["build"]), "--output", s.output.matches])
