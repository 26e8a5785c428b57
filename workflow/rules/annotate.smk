rule annotate:
    input:
        vcf=tumor_vcf,
        genome=genome_inputs,
    output:
        vcf="results/{patient}/annotated.vcf.gz",
        tbi="results/{patient}/annotated.vcf.gz.tbi",
        variants=report(
            "results/{patient}/variants.tsv",
            caption="../report/variants.rst",
            category="Per patient",
            subcategory="{patient}",
        ),
        qc="results/{patient}/annotate_qc.json",
    log:
        "logs/{patient}/annotate.log",
    benchmark:
        "benchmarks/{patient}/annotate.tsv"
    conda:
        ENV
    container:
        CONTAINER
    # One: a cohort fills the cores with patients. For a few whole-genome VCFs,
    # --set-threads annotate=2 gives htslib, which writes the VCF.gz in a process of its
    # own, a thread to compress with (same output bytes either way).
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        sheet=sheet_row,
        filters=config["filters"],
        reference=config["reference"],
        resources=str(RESOURCES),
    script:
        "../scripts/annotate.py"
