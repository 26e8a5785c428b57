# Snakemake adapter: fetch a CIViC release and swap it into the knowledge base.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import run_step

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "kb", "update", "--release", s.params.release])
