# Snakemake adapter: the cohort summary across every patient's report.json.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import run_step

s = snakemake  # noqa: F821
run_step(s, ["cohort", "--reports", *s.input.reports, "--output-tsv", s.output.tsv,
             "--output-html", s.output.html])
