rule generate:
    input:
        samples=f"{CAMPAIGN}/samples/chunk-{{chunk}}.json",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        f"{CAMPAIGN}/structures/chunk-{{chunk}}.h5",
    log:
        f"{CAMPAIGN}/logs/generate/chunk-{{chunk}}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/generate/chunk-{{chunk}}.tsv"
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
        f"{CAMPAIGN}/structures/chunk-{CHUNKS[0]}.h5",
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
