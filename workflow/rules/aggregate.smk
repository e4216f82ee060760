rule aggregate:
    input:
        config=ancient(RESOLVED_CONFIG),
        structures=expand(f"{CAMPAIGN}/{layout.STRUCTURES}", chunk=CHUNKS),
        properties=expand(
            f"{CAMPAIGN}/{layout.PROPERTIES}",
            property=PROPERTIES,
            chunk=CHUNKS,
        ),
    output:
        f"{CAMPAIGN}/{layout.DATASET}",
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
            + " ".join(
                f"{CAMPAIGN}/{layout.PROPERTIES.format(property=p, chunk=c)}"
                for c in CHUNKS
            )
            for p in PROPERTIES
        ),
    shell:
        "microinv aggregate --config {input.config} --structures {input.structures} "
        "{params.properties} -o {output} 2> {log}"
