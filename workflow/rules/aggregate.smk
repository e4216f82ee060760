rule aggregate:
    input:
        config=ancient(f"{CAMPAIGN}/config.json"),
        structures=expand(f"{CAMPAIGN}/structures/chunk-{{chunk}}.h5", chunk=CHUNKS),
        properties=expand(
            f"{CAMPAIGN}/properties/{{property}}/chunk-{{chunk}}.h5",
            property=PROPERTIES,
            chunk=CHUNKS,
        ),
    output:
        f"{CAMPAIGN}/dataset.h5",
    log:
        f"{CAMPAIGN}/logs/aggregate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 60 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("dataset"),
        properties=" ".join(
            f"--property {p} "
            + " ".join(f"{CAMPAIGN}/properties/{p}/chunk-{c}.h5" for c in CHUNKS)
            for p in PROPERTIES
        ),
    shell:
        "microinv aggregate --config {input.config} --structures {input.structures} "
        "{params.properties} -o {output} 2> {log}"
