rule sample:
    input:
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{CAMPAIGN}/{layout.SAMPLES}",
    log:
        f"{CAMPAIGN}/logs/sample/{layout.CHUNK_NAME}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/sample/{layout.CHUNK_NAME}.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("samples"),
    shell:
        "microinv sample --config {input.config} --chunk {wildcards.chunk} -o {output} 2> {log}"
