# Snakemake adapter: call pharmacogenes and attach guidance, the matched drugs first.
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "diplotypes", "--vcf", s.input.vcf,
             "--build", s.params.sheet["build"], *optional("--sample", s.params.sheet["germline_sample"]),
             *optional("--missing-as-reference", s.params.missing_as_reference),
             *optional("--outside-calls", s.params.sheet["outside_calls"]),
             *optional("--matches", s.input.get("matches", "")),
             "--output", s.output.calls, "--output-guidance", s.output.guidance])
