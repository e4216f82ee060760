# Representative volume (microinv rve): the RVE size of a sample of the prior (the campaign
# guard) and of each design; the report warns where it exceeds structure.n.
rule rve_prior:
    input:
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        rve=f"{CAMPAIGN}/rve/prior.json",
        eta=report(
            f"{CAMPAIGN}/rve/prior-eta.png",
            caption="../report/rve_eta.rst",
            category="Representative volume",
            subcategory="prior",
        ),
        cv=report(
            f"{CAMPAIGN}/rve/prior-cv.png",
            caption="../report/rve_cv.rst",
            category="Representative volume",
            subcategory="prior",
        ),
    log:
        f"{CAMPAIGN}/logs/rve/prior.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/rve/prior.tsv"
    conda:
        "../../envs/solve.yaml"
    threads: config["rve"]["tasks"]
    resources:
        tasks=config["rve"]["tasks"],
        mpi="mpiexec",
        cpus_per_task=1,
        runtime=lambda wildcards, attempt: 120 * attempt,
        mem_mb_per_cpu=lambda wildcards, attempt: 3000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("rve"),
    shell:
        "{resources.mpi} -n {resources.tasks} microinv rve --config {input.config} --prior "
        "-o {output.rve} 2> {log}"


rule rve_design:
    input:
        design=f"{CAMPAIGN}/design/{{target}}/{{method}}/design.json",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        rve=f"{CAMPAIGN}/design/{{target}}/{{method}}/rve.json",
        eta=report(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/rve-eta.png",
            caption="../report/rve_eta.rst",
            category="Representative volume",
            subcategory="{target} ({method})",
        ),
        cv=report(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/rve-cv.png",
            caption="../report/rve_cv.rst",
            category="Representative volume",
            subcategory="{target} ({method})",
        ),
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/{{method}}-rve.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/{{method}}-rve.tsv"
    conda:
        "../../envs/solve.yaml"
    threads: config["rve"]["tasks"]
    resources:
        tasks=config["rve"]["tasks"],
        mpi="mpiexec",
        cpus_per_task=1,
        runtime=lambda wildcards, attempt: 60 * attempt,
        mem_mb_per_cpu=lambda wildcards, attempt: 3000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("rve"),
    shell:
        "{resources.mpi} -n {resources.tasks} microinv rve --config {input.config} "
        "--design {input.design} -o {output.rve} 2> {log}"
