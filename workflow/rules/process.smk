# Goal-oriented process design of a process campaign (a `process` section in the config):
# the reference grid, phi* per target box, its validation, the figures. Not used otherwise.


rule process_grid_part:
    input:
        config=ancient(RESOLVED_CONFIG),
    output:
        f"{CAMPAIGN}/{layout.REFERENCE_GRID_PART}",
    log:
        f"{CAMPAIGN}/logs/design/reference-grid/{layout.CHUNK_NAME}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/reference-grid/{layout.CHUNK_NAME}.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("reference_grid"),
    shell:
        "microinv process grid --config {input.config} --part {wildcards.chunk} "
        "-o {output} 2> {log}"


rule process_grid:
    input:
        config=ancient(RESOLVED_CONFIG),
        parts=expand(
            f"{CAMPAIGN}/{layout.REFERENCE_GRID_PART}", chunk=PROCESS_GRID_PARTS
        ),
    output:
        f"{CAMPAIGN}/{layout.REFERENCE_GRID}",
    log:
        f"{CAMPAIGN}/logs/design/reference-grid.log",
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    params:
        depends_on=lambda wildcards: config_slice("reference_grid"),
    shell:
        "microinv process merge-grid --config {input.config} {input.parts} "
        "-o {output} 2> {log}"


rule process_design:
    input:
        config=ancient(RESOLVED_CONFIG),
        surrogate=PROCESS_SURROGATE,
    output:
        # study.journal beside it is not declared: Snakemake would delete it before a rerun,
        # and a killed design resumes from its finished trials
        f"{CAMPAIGN}/design/{{box}}/process/design.json",
    log:
        f"{CAMPAIGN}/logs/design/{{box}}/process.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{box}}/process.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("design"),
        predictor=lambda wildcards, input: (
            f"--surrogate {input.surrogate}" if input.surrogate else ""
        ),
    shell:
        "microinv process design --config {input.config} --box {wildcards.box} "
        "{params.predictor} -o {output} 2> {log}"


rule process_validate:
    input:
        config=ancient(RESOLVED_CONFIG),
        design=f"{CAMPAIGN}/design/{{box}}/process/design.json",
        grid=f"{CAMPAIGN}/{layout.REFERENCE_GRID}",
    output:
        f"{CAMPAIGN}/design/{{box}}/process/validation.json",
    log:
        f"{CAMPAIGN}/logs/design/{{box}}/process-validate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/design/{{box}}/process-validate.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 120 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("design"),
    shell:
        "microinv process validate --config {input.config} --box {wildcards.box} "
        "--design {input.design} --grid {input.grid} -o {output} 2> {log}"


rule process_figures:
    input:
        config=ancient(RESOLVED_CONFIG),
        dataset=f"{CAMPAIGN}/{layout.DATASET}",
        grid=f"{CAMPAIGN}/{layout.REFERENCE_GRID}",
        validations=expand(
            f"{CAMPAIGN}/design/{{box}}/process/validation.json", box=PROCESS_BOXES
        ),
    output:
        report(
            f"{REPORT}/process/p-map.png",
            caption="../report/process.rst",
            category="Process design",
        ),
        f"{REPORT}/process/cloud.png",
        expand(f"{REPORT}/process/structures-{{box}}.png", box=PROCESS_BOXES),
    log:
        f"{CAMPAIGN}/logs/process-figures.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/process-figures.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 20 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "microinv process figures --config {input.config} --dataset {input.dataset} "
        "--grid {input.grid} --validations {input.validations} -o {params.folder} 2> {log}"
