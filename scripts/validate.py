# Snakemake adapter: check one input VCF before any work is done on it.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parent / "src"))  # noqa: F821
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["validate", "--vcf", s.input.vcf, "--build", s.params.build, "--role", s.params.role,
             *optional("--tumor-sample", s.params.tumor_sample),
             *optional("--normal-sample", s.params.normal_sample),
             "--output", s.output.checked])
