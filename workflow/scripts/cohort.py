# Snakemake adapter: the cohort summary across every patient's report.json.
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["cohort", "--reports", *s.input.reports, "--output-tsv", s.output.tsv,
             "--output-html", s.output.html])
