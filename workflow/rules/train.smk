rule train:
    input:
        dataset=f"{CAMPAIGN}/dataset.h5",
        config=ancient(f"{CAMPAIGN}/config.json"),
    output:
        model=f"{CAMPAIGN}/surrogate/model.ckpt",
        metrics=f"{CAMPAIGN}/surrogate/metrics.json",
        parity=report(
            f"{CAMPAIGN}/surrogate/parity.png",
            caption="../report/parity.rst",
            category="Surrogate",
        ),
        calibration=report(
            f"{CAMPAIGN}/surrogate/calibration.png",
            caption="../report/calibration.rst",
            category="Surrogate",
        ),
        curves=report(
            f"{CAMPAIGN}/surrogate/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Surrogate",
        ),
    log:
        f"{CAMPAIGN}/logs/train.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/train.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 2
    resources:
        **gpu_resources(),
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
    params:
        depends_on=lambda wildcards: config_slice("surrogate"),
        folder=lambda wildcards, output: os.path.dirname(output.model),
    shell:
        "microinv train {input.dataset} --config {input.config} -o {params.folder} 2> {log}"
