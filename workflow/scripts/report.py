# Snakemake adapter: assemble report.json and render report.html.
import json

import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, run_step

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
