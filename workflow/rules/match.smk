rule match:
    input:
        variants="results/{patient}/variants.tsv",
    output:
        matches="results/{patient}/match/somatic_matches.tsv",
    params:
        build=lambda w: patient(w).build,
        tumor_type=lambda w: patient(w).tumor_type,
        cna=lambda w: patient(w).cna,
        fusions=lambda w: patient(w).fusions,
        resources=str(RESOURCES),
    log:
        "logs/{patient}/match.log",
    benchmark:
        "benchmarks/{patient}/match.tsv"
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../../scripts/match.py"
