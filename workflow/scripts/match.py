# Snakemake adapter: match the annotated variants to the knowledge base.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, run_step

s = snakemake  # noqa: F821
run_step(s, ["--resources", s.params.resources, "match", "--variants", s.input.variants,
             "--tumor-type", s.params.sheet["tumor_type"], "--build", s.params.sheet["build"],
             *optional("--cna", s.params.sheet["cna"]), *optional("--fusions", s.params.sheet["fusions"]),
             *[arg for kb in s.params.extra_kbs for arg in ("--extra-kb", kb)],
             "--output", s.output.matches])
