# Active-learning rounds (microinv.design.active), on when active.rounds > 0. Round r of
# target t and method m lives in active/round-{r}/{t}/{m}/: batch.json, batch/ (the new
# structures, solved), design.json and validation/ + validation.json (designed with the
# round's surrogate: by default the round before's design refined, active.redesign: local;
# or a full search again, active.redesign: search, with its BO workers). The round's dataset and surrogate are active/round-{r}/dataset.h5, surrogate/model.ckpt;
# round-{r}/round.json, a checkpoint, gathers the batches' counts and stops: what the
# rounds still need (one checkpoint per round: an input function waiting on several
# checkpoints at once can be released too early on a rerun).
# Round 0 is the campaign's first design and surrogate. A stopped loop asks for no more of
# its rounds' designs; a round in which every loop has stopped trains no surrogate.


include: "active_inputs.smk"


wildcard_constraints:
    round=r"[1-9]\d*",
    set="batch|validation",


rule active_acquire:
    input:
        unpack(acquire_inputs),
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{LOOP}/batch.json",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/{{method}}-acquire.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/{{method}}-acquire.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        loop=lambda wildcards, input: options(
            input, "design", "validation", "surrogate", "previous"
        ),
    shell:
        "microinv active acquire --config {input.config} {params.loop} "
        "--round {wildcards.round} --target-name {wildcards.target} -o {output} 2> {log}"


checkpoint active_round:
    input:
        expand(
            f"{ACTIVE}/round-{{{{round}}}}/{{target}}/{{method}}/batch.json",
            target=TARGETS,
            method=METHODS,
        ),
    output:
        f"{ROUND}/round.json",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/round.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/round.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
    shell:
        "microinv active round {input} -o {output} 2> {log}"


rule active_generate:
    input:
        samples=lambda wildcards: (
            f"{LOOP}/batch.json" if wildcards.set == "batch" else f"{LOOP}/design.json"
        ),
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{LOOP}/{{set}}/structures.h5",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/{{method}}-{{set}}-generate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/{{method}}-{{set}}-generate.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    shell:
        "microinv generate {input.samples} --config {input.config} -o {output} 2> {log}"


rule active_solve:
    input:
        structures=f"{LOOP}/{{set}}/structures.h5",
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{LOOP}/{{set}}/{{property}}.h5",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/{{method}}-{{set}}-{{property}}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/{{method}}-{{set}}-{{property}}.tsv"
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
    shell:
        "{resources.mpi} -n {resources.tasks} microinv solve {wildcards.property} "
        "{input.structures} --config {input.config} -o {output} 2> {log}"


rule active_dataset:
    input:
        unpack(round_dataset_inputs),
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{ROUND}/dataset.h5",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/aggregate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/aggregate.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 60 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        structures=lambda wildcards, input: options(input, "structures"),
        properties=round_dataset_properties,
        added=lambda wildcards: len(added_batches(int(wildcards.round))),
    shell:
        "microinv aggregate --config {input.config} {params.structures} "
        "{params.properties} --added {params.added} -o {output} 2> {log}"


rule active_train:
    input:
        dataset=f"{ROUND}/dataset.h5",
        init_from=lambda wildcards: surrogate_of(
            surrogate_round(int(wildcards.round) - 1)
        ),
        config=ancient(RESOLVED_CONFIG),
    output:
        model=f"{ROUND}/surrogate/model.ckpt",
        metrics=f"{ROUND}/surrogate/metrics.json",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/train.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/train.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        **gpu_resources(),
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
    params:
        folder=lambda wildcards, output: os.path.dirname(output.model),
        init_from=lambda wildcards, input: options(input, "init_from"),
        epochs=config["active"]["fine_tune_epochs"],
    shell:
        "microinv train {input.dataset} --config {input.config} {params.init_from} "
        "--max-epochs {params.epochs} -o {params.folder} 2> {log}"


rule active_design_abc:
    input:
        unpack(earlier_inputs("abc")),
        surrogate=f"{ROUND}/surrogate/model.ckpt",
        config=ancient(RESOLVED_CONFIG),
    output:
        design=f"{ROUND}/{{target}}/abc/design.json",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/abc.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/abc.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        **gpu_resources(),
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
    params:
        target=lambda wildcards: " ".join(map(str, TARGETS[wildcards.target])),
        folder=lambda wildcards, output: os.path.dirname(output.design),
        earlier=earlier_options,
    shell:
        "microinv design abc --surrogate {input.surrogate} --config {input.config} "
        "--target {params.target} --campaign {wildcards.target} --restart-on-change "
        "--round {wildcards.round} {params.earlier} -o {params.folder} 2> {log}"


rule active_design_bo_worker:
    input:
        unpack(earlier_inputs("bo")),
        surrogate=f"{ROUND}/surrogate/model.ckpt",
        config=ancient(RESOLVED_CONFIG),
    output:
        touch(f"{ROUND}/{{target}}/bo/workers/{{worker}}.done"),
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/bo-worker-{{worker}}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/bo-worker-{{worker}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
    params:
        target=lambda wildcards: " ".join(map(str, TARGETS[wildcards.target])),
        folder=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
        total=BO_TOTAL_TRIALS,
        earlier=earlier_options,
    shell:
        "microinv design bo --surrogate {input.surrogate} --config {input.config} "
        "--target {params.target} --campaign {wildcards.target} --worker {wildcards.worker} "
        "--total-trials {params.total} --round {wildcards.round} {params.earlier} --no-design "
        "-o {params.folder} 2> {log}"


rule active_design_bo:
    input:
        unpack(earlier_inputs("bo")),
        unpack(bo_worker_inputs),
        surrogate=f"{ROUND}/surrogate/model.ckpt",
        config=ancient(RESOLVED_CONFIG),
    output:
        design=f"{ROUND}/{{target}}/bo/design.json",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/bo.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/bo.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        target=lambda wildcards: " ".join(map(str, TARGETS[wildcards.target])),
        folder=lambda wildcards, output: os.path.dirname(output.design),
        total=BO_TOTAL_TRIALS,
        earlier=earlier_options,
    shell:
        "microinv design bo --surrogate {input.surrogate} --config {input.config} "
        "--target {params.target} --campaign {wildcards.target} --trials 0 "
        "--total-trials {params.total} --round {wildcards.round} {params.earlier} "
        "-o {params.folder} 2> {log}"


rule active_validate:
    input:
        design=f"{LOOP}/design.json",
        properties=f"{LOOP}/validation/diffusivity.h5",
        structures=f"{LOOP}/validation/structures.h5",
        surrogate=f"{ROUND}/surrogate/model.ckpt",
    output:
        f"{LOOP}/validation.json",
    log:
        f"{CAMPAIGN}/logs/active/round-{{round}}/{{target}}/{{method}}-validate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/round-{{round}}/{{target}}/{{method}}-validate.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    shell:
        "microinv validate {input.design} {input.properties} {input.structures} "
        "--surrogate {input.surrogate} -o {output} 2> {log}"


rule active_summary:
    input:
        unpack(active_summary_inputs),
        config=ancient(RESOLVED_CONFIG),
    output:
        summary=f"{ACTIVE}/summary.json",
        figure=report(
            f"{REPORT}/active/discrepancy.png",
            caption="../report/active.rst",
            category="Design",
            subcategory="Active learning",
        ),
    log:
        f"{CAMPAIGN}/logs/active/summary.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/active/summary.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        files=lambda wildcards, input: options(input, "batches", "validations"),
    shell:
        "microinv active summary --config {input.config} {params.files} "
        "--figure {output.figure} -o {output.summary} 2> {log}"
