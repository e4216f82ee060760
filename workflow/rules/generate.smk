rule generate:
    input:
        samples=f"{CAMPAIGN}/{layout.SAMPLES}",
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{CAMPAIGN}/{layout.STRUCTURES}",
    log:
        f"{CAMPAIGN}/logs/generate/{layout.CHUNK_NAME}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/generate/{layout.CHUNK_NAME}.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("structures"),
    shell:
        "microinv generate {input.samples} --config {input.config} -o {output} 2> {log}"


rule preview:
    input:
        f"{CAMPAIGN}/{layout.STRUCTURES.format(chunk=CHUNKS[0])}",
    output:
        report(
            f"{CAMPAIGN}/report/structures.png",
            caption="../report/structures.rst",
            category="Structures",
        ),
    log:
        f"{CAMPAIGN}/logs/preview.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/preview.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    shell:
        "microinv show {input} --first 3 -o {output} 2> {log}"
