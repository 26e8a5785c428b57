# Snakemake adapter: fetch a CIViC release and swap it into the knowledge base.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parent / "src"))  # noqa: F821
from pgx.workflow import run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "kb", "update", "--release", s.params.release])
