# Snakemake adapter: check one input VCF before any work is done on it.
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["validate", "--vcf", s.input.vcf, "--build", s.params.build, "--role", s.params.role,
             *optional("--tumor-sample", s.params.tumor_sample),
             *optional("--normal-sample", s.params.normal_sample),
             "--output", s.output.checked])
