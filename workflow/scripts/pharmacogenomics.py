# Snakemake adapter: call pharmacogenes and attach guidance, the matched drugs first.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, run_step

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "diplotypes", "--vcf", s.input.vcf,
             "--build", s.params.sheet["build"], *optional("--sample", s.params.sheet["germline_sample"]),
             *optional("--missing-as-reference", s.params.missing_as_reference),
             *optional("--outside-calls", s.params.sheet["outside_calls"]),
             *optional("--matches", s.input.get("matches", "")),
             "--output", s.output.calls, "--output-guidance", s.output.guidance])
