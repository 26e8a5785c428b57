# Snakemake adapter: normalise and annotate the tumor VCF.
import sys
from pathlib import Path

CHECKOUT_SRC = Path(snakemake.scriptdir).resolve().parents[1] / "src"  # noqa: F821
if (CHECKOUT_SRC / "pgx").is_dir():  # a checkout runs its own library, else the installed one
    sys.path.insert(0, str(CHECKOUT_SRC))
from pgx.workflow import optional, run_step  # noqa: E402

s = snakemake  # noqa: F821
f = s.params.filters
run_step(s, ["--resources", s.params.resources, "annotate", "--vcf", s.input.vcf,
             "--build", s.params.sheet["build"],
             *optional("--tumor-sample", s.params.sheet["tumor_sample"]),
             *optional("--normal-sample", s.params.sheet["normal_sample"]),
             "--min-depth", str(f["min_depth"]), "--min-vaf", str(f["min_vaf"]),
             *optional("--keep-non-pass", not f["require_pass"]),
             *optional("--reference-fasta", s.params.reference_fasta),
             "--threads", str(s.threads),
             "--output-vcf", s.output.vcf, "--output-tsv", s.output.variants, "--output-qc", s.output.qc])
