# pgx: genomics-guided therapy matching. This file is the table of contents; the steps are in
# workflow/rules/, their logic in src/pgx/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/annotate.smk"
include: "workflow/rules/match.smk"
include: "workflow/rules/pharmacogenomics.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/kb.smk"


# Tiny bookkeeping steps run on the submitting node, not as cluster jobs.
localrules:
    all,
    validate_tumor,
    validate_germline,


rule all:
    input:
        all_targets(),
    default_target: True
