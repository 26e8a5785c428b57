rule validate_tumor:
    input:
        vcf=tumor_vcf,
    output:
        checked="results/{patient}/validated/tumor.ok",
    log:
        "logs/{patient}/validate_tumor.log",
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=500,
        runtime=10,
    params:
        build=lambda w: patient(w).build,
        tumor_sample=lambda w: patient(w).tumor_sample,
        normal_sample=lambda w: patient(w).normal_sample,
        role="tumor",
    script:
        "../scripts/validate.py"


rule validate_germline:
    input:
        vcf=germline_vcf,
    output:
        checked="results/{patient}/validated/germline.ok",
    log:
        "logs/{patient}/validate_germline.log",
    conda:
        ENV
    container:
        CONTAINER
    resources:
        mem_mb=500,
        runtime=10,
    params:
        build=lambda w: patient(w).build,
        tumor_sample="",
        normal_sample="",
        role="germline",
    script:
        "../scripts/validate.py"
