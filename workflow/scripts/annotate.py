# Snakemake adapter: normalise and annotate the tumor VCF.
import pgx_checkout  # noqa: F401 (puts the checkout's src/ first on sys.path)

from pgx.workflow import optional, reference_options, run_step

s = snakemake  # noqa: F821
f = s.params.filters
run_step(s, ["--resources", s.params.resources, "annotate", "--vcf", s.input.vcf,
             "--build", s.params.sheet["build"],
             *optional("--tumor-sample", s.params.sheet["tumor_sample"]),
             *optional("--normal-sample", s.params.sheet["normal_sample"]),
             "--min-depth", str(f["min_depth"]), "--min-vaf", str(f["min_vaf"]),
             *optional("--keep-non-pass", not f["require_pass"]),
             *reference_options(s.params.reference, s.params.sheet["build"]),
             "--threads", str(s.threads),
             "--output-vcf", s.output.vcf, "--output-tsv", s.output.variants, "--output-qc", s.output.qc])
