rule design_abc:
    input:
        surrogate=f"{CAMPAIGN}/surrogate/model.ckpt",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        # posterior.h5 beside it is not declared: Snakemake would delete it before a rerun,
        # and a killed run resumes from it at its last finished generation
        design=f"{CAMPAIGN}/design/{{target}}/abc/design.json",
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/abc.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/abc.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        **gpu_resources(),
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("design"),
        target=lambda wildcards: " ".join(map(str, TARGETS[wildcards.target])),
        folder=lambda wildcards, output: os.path.dirname(output.design),
    shell:
        "microinv design abc --surrogate {input.surrogate} --config {input.config} "
        "--target {params.target} --campaign {wildcards.target} --restart-on-change "
        "-o {params.folder} 2> {log}"


# the BO budget: every worker's trials, in one study; design_bo writes the design only then
BO_TOTAL_TRIALS = config["design"]["workers"] * config["design"]["trials"]


rule design_bo_worker:
    input:
        surrogate=f"{CAMPAIGN}/surrogate/model.ckpt",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        touch(f"{CAMPAIGN}/design/{{target}}/bo/workers/{{worker}}.done"),
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/bo-worker-{{worker}}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/bo-worker-{{worker}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("design"),
        target=lambda wildcards: " ".join(map(str, TARGETS[wildcards.target])),
        folder=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
        # a restarted worker tops the shared study up to this, never beyond
        total=BO_TOTAL_TRIALS,
    shell:
        "microinv design bo --surrogate {input.surrogate} --config {input.config} "
        "--target {params.target} --campaign {wildcards.target} --worker {wildcards.worker} "
        "--total-trials {params.total} --no-design -o {params.folder} 2> {log}"


rule design_bo:
    input:
        workers=expand(
            f"{CAMPAIGN}/design/{{{{target}}}}/bo/workers/{{worker}}.done",
            worker=range(config["design"]["workers"]),
        ),
        surrogate=f"{CAMPAIGN}/surrogate/model.ckpt",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        design=f"{CAMPAIGN}/design/{{target}}/bo/design.json",
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/bo.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/bo.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        target=lambda wildcards: " ".join(map(str, TARGETS[wildcards.target])),
        folder=lambda wildcards, output: os.path.dirname(output.design),
        # refused (exit 2) unless the study holds every worker's trials
        total=BO_TOTAL_TRIALS,
    shell:
        "microinv design bo --surrogate {input.surrogate} --config {input.config} "
        "--target {params.target} --campaign {wildcards.target} --trials 0 "
        "--total-trials {params.total} -o {params.folder} 2> {log}"


rule generate_design:
    input:
        f"{CAMPAIGN}/design/{{target}}/{{method}}/design.json",
    output:
        f"{CAMPAIGN}/design/{{target}}/{{method}}/validation/structures.h5",
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/{{method}}-generate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/{{method}}-generate.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    shell:
        "microinv generate {input} -o {output} 2> {log}"


rule solve_design:
    input:
        structures=f"{CAMPAIGN}/design/{{target}}/{{method}}/validation/structures.h5",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        f"{CAMPAIGN}/design/{{target}}/{{method}}/validation/diffusivity.h5",
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/{{method}}-solve.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/{{method}}-solve.tsv"
    conda:
        "../../envs/solve.yaml"
    threads: config["solve"]["tasks"]
    resources:
        tasks=config["solve"]["tasks"],
        mpi="mpiexec",
        cpus_per_task=1,
        runtime=lambda wildcards, attempt: 120 * attempt,
        mem_mb_per_cpu=lambda wildcards, attempt: 3000 * attempt,
    shell:
        "{resources.mpi} -n {resources.tasks} microinv solve diffusivity {input.structures} "
        "--config {input.config} -o {output} 2> {log}"


rule validate_design:
    input:
        design=f"{CAMPAIGN}/design/{{target}}/{{method}}/design.json",
        properties=f"{CAMPAIGN}/design/{{target}}/{{method}}/validation/diffusivity.h5",
        structures=f"{CAMPAIGN}/design/{{target}}/{{method}}/validation/structures.h5",
        surrogate=f"{CAMPAIGN}/surrogate/model.ckpt",
        rve=(
            [f"{CAMPAIGN}/design/{{target}}/{{method}}/rve.json"]
            if config["rve"]["enabled"]
            else []
        ),
    output:
        validation=f"{CAMPAIGN}/design/{{target}}/{{method}}/validation.json",
        histograms=report(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/validation-histograms.png",
            caption="../report/validation.rst",
            category="Design",
            subcategory="{target} ({method})",
        ),
        scatter=report(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/surrogate-vs-solver.png",
            caption="../report/surrogate_vs_solver.rst",
            category="Design",
            subcategory="{target} ({method})",
        ),
    log:
        f"{CAMPAIGN}/logs/design/{{target}}/{{method}}-validate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{target}}/{{method}}-validate.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        rve=lambda wildcards, input: f"--rve {input.rve}" if input.rve else "",
    shell:
        "microinv validate {input.design} {input.properties} {input.structures} "
        "--surrogate {input.surrogate} {params.rve} -o {output.validation} 2> {log}"
