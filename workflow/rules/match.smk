rule match:
    input:
        variants="results/{patient}/variants.tsv",
    output:
        matches="results/{patient}/match/somatic_matches.tsv",
    log:
        "logs/{patient}/match.log",
    benchmark:
        "benchmarks/{patient}/match.tsv"
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        sheet=sheet_row,
        extra_kbs=config.get("extra_knowledge_bases", []),
        resources=str(RESOURCES),
    script:
        "../scripts/match.py"


rule germline_cohort_variants:
    input:
        vcf=cohort_vcf,
        genome=cohort_genome_inputs,
    output:
        variants="results/germline/{cohort}/germline_variants.tsv",
    log:
        "logs/germline/{cohort}.variants.log",
    benchmark:
        "benchmarks/germline/{cohort}.variants.tsv"
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cohort=cohort,
        resources=str(RESOURCES),
        reference=config["reference"],
    script:
        "../scripts/germline_cohort_variants.py"


rule germline_findings:
    input:
        unpack(germline_findings_inputs),
    output:
        matches="results/{patient}/match/germline_matches.tsv",
    log:
        "logs/{patient}/germline_findings.log",
    benchmark:
        "benchmarks/{patient}/germline_findings.tsv"
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        sheet=sheet_row,
        resources=str(RESOURCES),
        reference=config["reference"],
    script:
        "../scripts/germline_findings.py"
