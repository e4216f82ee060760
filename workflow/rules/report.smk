# The campaign's answer, first on the report's landing page (workflow/report/workflow.rst).
rule summary:
    input:
        dataset=f"{CAMPAIGN}/dataset.h5",
        metrics=f"{CAMPAIGN}/surrogate/metrics.json",
        validations=expand(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/validation.json",
            target=TARGETS,
            method=METHODS,
        ),
        active=[f"{ACTIVE}/summary.json"] if ROUNDS else [],
        rve=RVE_OUTPUTS,
    output:
        report(
            f"{REPORT}/answer.html",
            caption="../report/answer.rst",
            category="1. Answer",
        ),
    log:
        f"{CAMPAIGN}/logs/summary.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/summary.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 5 * attempt,
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
    params:
        campaign=lambda wildcards, input: os.path.dirname(input.dataset),
        designs=" ".join(f"{t}/{m}" for t in TARGETS for m in METHODS),
    shell:
        "microinv summary {params.campaign} --design {params.designs} -o {output} 2> {log}"


rule figures:
    input:
        f"{CAMPAIGN}/dataset.h5",
    output:
        histograms=[
            report(
                f"{REPORT}/{p}-histograms.png",
                caption="../report/property_histograms.rst",
                category="Properties",
                subcategory=p,
            )
            for p in PROPERTIES
        ],
        joint=[
            report(
                f"{REPORT}/{p}-joint.png",
                caption="../report/property_joint.rst",
                category="Properties",
                subcategory=p,
            )
            for p in PROPERTIES
        ],
        porosity=[
            report(
                f"{REPORT}/{p}-porosity.png",
                caption="../report/property_porosity.rst",
                category="Properties",
                subcategory=p,
            )
            for p in PROPERTIES
        ],
        convergence=[
            report(
                f"{REPORT}/{p}-convergence.png",
                caption="../report/convergence.rst",
                category="Solver",
                subcategory=p,
            )
            for p in PROPERTIES
        ],
        descriptors=report(
            f"{REPORT}/descriptors.png",
            caption="../report/descriptors.rst",
            category="Structures",
        ),
    log:
        f"{CAMPAIGN}/logs/figures.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/figures.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 20 * attempt,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
    params:
        folder=lambda wildcards, output: os.path.dirname(output.descriptors),
    shell:
        "microinv figures {input} -o {params.folder} 2> {log}"


rule abc_figures:
    input:
        f"{CAMPAIGN}/design/{{target}}/abc/design.json",
    output:
        marginals=report(
            f"{REPORT}/design/{{target}}/posterior-marginals.png",
            caption="../report/posterior_marginals.rst",
            category="Design",
            subcategory="{target} (abc)",
        ),
        acceptance=report(
            f"{REPORT}/design/{{target}}/acceptance.png",
            caption="../report/acceptance.rst",
            category="Design",
            subcategory="{target} (abc)",
        ),
    log:
        f"{CAMPAIGN}/logs/figures/{{target}}-abc.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/figures/{{target}}-abc.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        folder=lambda wildcards, output: os.path.dirname(output.marginals),
    shell:
        "microinv figures {input} -o {params.folder} 2> {log}"


rule bo_figures:
    input:
        design=f"{CAMPAIGN}/design/{{target}}/bo/design.json",
    output:
        report(
            f"{REPORT}/design/{{target}}/bo-history.png",
            caption="../report/bo_history.rst",
            category="Design",
            subcategory="{target} (bo)",
        ),
    log:
        f"{CAMPAIGN}/logs/figures/{{target}}-bo.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/figures/{{target}}-bo.tsv"
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 10 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        folder=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "microinv figures {input.design} -o {params.folder} 2> {log}"


rule xdmf:
    input:
        f"{CAMPAIGN}/{{stem}}.h5",
    output:
        f"{CAMPAIGN}/{{stem}}.xdmf",
    log:
        f"{CAMPAIGN}/logs/xdmf/{{stem}}.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/xdmf/{{stem}}.tsv"
    wildcard_constraints:
        stem=layout.stem_pattern(layout.DATASET, layout.STRUCTURES),
    # reads only metadata: not worth a cluster job per chunk
    localrule: True
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 5 * attempt,
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
    shell:
        "microinv xdmf {input} -o {output} 2> {log}"


rule crate:
    input:
        lambda wildcards: [f for f in final_outputs() if f != CRATE],
    output:
        CRATE,
    log:
        f"{CAMPAIGN}/logs/crate.log",
    benchmark:
        f"{CAMPAIGN}/benchmarks/crate.tsv"
    conda:
        "../../envs/microinv.yaml"
    threads: 1
    resources:
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
    params:
        campaign=lambda wildcards, output: os.path.dirname(output[0]),
        snakefile=workflow.main_snakefile,
        # written while (or after) the crate is made: not part of it
        exclude="logs/crate.log benchmarks/crate.tsv",
    shell:
        "microinv crate {params.campaign} --workflow {params.snakefile} "
        "--exclude {params.exclude} 2> {log}"
