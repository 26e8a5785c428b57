# Snakemake adapter: call pharmacogenes once for every sample of a germline VCF that patients share.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, run_step

s = snakemake  # noqa: F821
c = s.params.cohort
run_step(s, ["--resources", s.params.resources, "diplotypes", "--vcf", s.input.vcf, "--build", c["build"],
             *[option for sample in c["samples"] for option in ("--sample", sample)],
             *optional("--missing-as-reference", s.params.missing_as_reference),
             "--output", s.output.calls])
