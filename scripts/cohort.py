# Snakemake adapter: the cohort summary across every patient's report.json.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parent / "src"))  # noqa: F821
from pgx.workflow import run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["cohort", "--reports", *s.input.reports, "--output-tsv", s.output.tsv,
             "--output-html", s.output.html])
