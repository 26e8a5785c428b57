# Snakemake adapter: fetch a CIViC release and swap it into the knowledge base.
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "kb", "update", "--release", s.params.release])
