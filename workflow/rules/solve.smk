rule solve:
    input:
        structures=f"{CAMPAIGN}/{layout.STRUCTURES}",
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{CAMPAIGN}/{layout.PROPERTIES}",
    log:
        f"{CAMPAIGN}/logs/solve/{{property}}/{layout.CHUNK_NAME}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/solve/{{property}}/{layout.CHUNK_NAME}.tsv"
    wildcard_constraints:
        property="|".join(PROPERTIES),
    conda:
        "../../envs/solve.yaml"
    threads: config["solve"]["tasks"]
    resources:
        tasks=config["solve"]["tasks"],
        mpi="mpiexec",
        cpus_per_task=1,
        runtime=lambda wildcards, attempt: 120 * attempt,
        mem_mb_per_cpu=lambda wildcards, attempt: 3000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("properties"),
    shell:
        "{resources.mpi} -n {resources.tasks} microinv solve {wildcards.property} "
        "{input.structures} --config {input.config} -o {output} 2> {log}"
