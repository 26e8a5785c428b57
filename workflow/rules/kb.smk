# Not part of `all`: run explicitly, e.g. `snakemake --cores 1 logs/kb_update/2024-09-01.done`.
# The only rule that uses the network; civic_api=1 keeps concurrent updates from racing.
rule kb_update:
    output:
        done=touch("logs/kb_update/{release}.done"),
    log:
        "logs/kb_update/{release}.log",
    wildcard_constraints:
        release=r"\d{4}-\d{2}-\d{2}",
    conda:
        ENV
    container:
        CONTAINER
    resources:
        civic_api=1,
        mem_mb=1000,
        runtime=30,
    params:
        release=lambda w: w.release,
        resources=str(RESOURCES),
    script:
        "../scripts/kb_update.py"
