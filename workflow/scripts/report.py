# Snakemake adapter: assemble report.json and render report.html.
import json
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "report", "--patient", s.params.sheet["patient"],
             "--tumor-type", s.params.sheet["tumor_type"], "--build", s.params.sheet["build"],
             *optional("--tumor-vcf", s.params.sheet["tumor_vcf"]),
             *optional("--germline-vcf", s.params.sheet["germline_vcf"]),
             *[arg for name in ("variants", "matches", "pharmacogenes", "guidance", "qc", "germline_matches")
               for arg in optional(f"--{name.replace('_', '-')}", s.input.get(name, ""))],
             "--settings", json.dumps(s.params.settings, sort_keys=True),
             "--callable-mb", str(s.params.callable_mb),
             "--output-matches", s.output.matches, "--output-json", s.output.json, "--output-html", s.output.html])
