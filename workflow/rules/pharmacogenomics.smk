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
