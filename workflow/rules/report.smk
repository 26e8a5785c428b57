rule report:
    input:
        unpack(report_inputs),
    output:
        json="results/{patient}/report.json",
        matches=report(
            "results/{patient}/matches.tsv",
            caption="../report/matches.rst",
            category="Per patient",
            subcategory="{patient}",
        ),
        html=report(
            "results/{patient}/report.html",
            caption="../report/report.rst",
            category="Per patient",
            subcategory="{patient}",
        ),
    log:
        "logs/{patient}/report.log",
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=500,
        runtime=10,
    params:
        sheet=sheet_row,
        settings=RUN_SETTINGS,
        callable_mb=config.get("tmb", {}).get("callable_mb", 0),
        resources=str(RESOURCES),
    script:
        "../scripts/report.py"


rule cohort:
    input:
        reports=expand("results/{patient}/report.json", patient=sorted(PATIENTS)),
    output:
        html=report(
            "results/cohort/summary.html",
            caption="../report/cohort.rst",
            category="Cohort",
        ),
        tsv="results/cohort/summary.tsv",
    log:
        "logs/cohort.log",
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/cohort.py"
