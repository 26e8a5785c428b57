# Snakemake adapter: germline variants relevant to therapy (e.g. BRCA1/2 for PARP inhibitors).
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, reference_options, run_step

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "germline", "--vcf", s.input.vcf,
             "--tumor-type", s.params.sheet["tumor_type"], "--build", s.params.sheet["build"],
             *optional("--sample", s.params.sheet["germline_sample"]),
             *reference_options(s.params.reference, s.params.sheet["build"]), "--output", s.output.matches])
