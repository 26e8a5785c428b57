rule germline_cohort_calls:
    input:
        vcf=cohort_vcf,
    output:
        calls="results/germline/{cohort}/pharmacogenes.tsv",
    log:
        "logs/germline/{cohort}.log",
    benchmark:
        "benchmarks/germline/{cohort}.tsv"
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cohort=cohort,
        missing_as_reference=config["pharmacogenomics"]["missing_as_reference"],
        resources=str(RESOURCES),
    script:
        "../scripts/germline_cohort_calls.py"


rule pharmacogenomics:
    input:
        unpack(pharmacogenomics_inputs),
    output:
        calls=report(
            "results/{patient}/pharmacogenes.tsv",
            caption="../report/pharmacogenes.rst",
            category="Per patient",
            subcategory="{patient}",
        ),
        guidance="results/{patient}/guidance.tsv",
    log:
        "logs/{patient}/pharmacogenomics.log",
    benchmark:
        "benchmarks/{patient}/pharmacogenomics.tsv"
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        sheet=sheet_row,
        missing_as_reference=config["pharmacogenomics"]["missing_as_reference"],
        resources=str(RESOURCES),
    script:
        "../scripts/pharmacogenomics.py"
