# Snakemake adapter: match the annotated variants to the knowledge base.
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "match", "--variants", s.input.variants,
             "--tumor-type", s.params.sheet["tumor_type"], "--build", s.params.sheet["build"],
             *optional("--cna", s.params.sheet["cna"]), *optional("--fusions", s.params.sheet["fusions"]),
             *[arg for kb in s.params.extra_kbs for arg in ("--extra-kb", kb)],
             "--output", s.output.matches])
