# Snakemake adapter: germline variants relevant to therapy (e.g. BRCA1/2 for PARP inhibitors).
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "germline", "--vcf", s.input.vcf,
             "--tumor-type", s.params.sheet["tumor_type"], "--build", s.params.sheet["build"],
             *optional("--sample", s.params.sheet["germline_sample"]), "--output", s.output.matches])
