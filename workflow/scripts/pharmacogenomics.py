# Snakemake adapter: call pharmacogenes and attach guidance, the matched drugs first.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, run_step

s = snakemake  # noqa: F821
# A VCF that several patients share was called once for all of them (rule germline_cohort_calls).
source = ["--calls", s.input.calls] if s.input.get("calls") else ["--vcf", s.input.vcf]
run_step(s, ["--resources", s.params.resources, "diplotypes", *source,
             "--build", s.params.sheet["build"], *optional("--sample", s.params.sheet["germline_sample"]),
             *optional("--missing-as-reference", s.params.missing_as_reference),
             *optional("--outside-calls", s.params.sheet["outside_calls"]),
             *optional("--matches", s.input.get("matches", "")),
             "--output", s.output.calls, "--output-guidance", s.output.guidance])
