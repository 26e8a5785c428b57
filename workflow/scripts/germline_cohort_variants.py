# Snakemake adapter: read a germline VCF that patients share once, every sample's variants in therapy genes.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import reference_options, run_step

s = snakemake  # noqa: F821
c = s.params.cohort
run_step(s, ["--resources", s.params.resources, "germline-variants", "--vcf", s.input.vcf, "--build", c["build"],
             *[option for sample in c["samples"] for option in ("--sample", sample)],
             *reference_options(s.params.reference, c["build"]), "--output", s.output.variants])
