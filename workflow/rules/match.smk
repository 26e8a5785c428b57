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
        build=lambda w: patient(w).build,
        tumor_type=lambda w: patient(w).tumor_type,
        cna=lambda w: patient(w).cna,
        fusions=lambda w: patient(w).fusions,
        extra_kbs=config.get("extra_knowledge_bases", []),
        resources=str(RESOURCES),
    script:
        "../scripts/match.py"


rule germline_findings:
    input:
        vcf=germline_vcf,
        checked="results/{patient}/validated/germline.ok",
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
        build=lambda w: patient(w).build,
        tumor_type=lambda w: patient(w).tumor_type,
        sample=lambda w: patient(w).germline_sample,
        resources=str(RESOURCES),
    script:
        "../scripts/germline_findings.py"
