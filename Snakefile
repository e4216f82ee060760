# microinv: inverse design of porous microstructures, one campaign per config.
#
#   snakemake --profile profiles/local                    # this machine
#   snakemake --profile profiles/slurm                    # a SLURM cluster
#   snakemake --profile profiles/local --configfile config/roding2022.yaml
#   snakemake --profile profiles/local --configfile config/psp2d.yaml   # process design


from snakemake.utils import min_version

min_version("9.0")


# No configfile directive: Snakemake would merge a --configfile over it. common.smk reads
# config/config.yaml, or the --configfile instead of it, as `microinv config` does.


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/config.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/solve.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/design.smk"
include: "workflow/rules/rve.smk"
include: "workflow/rules/active.smk"
include: "workflow/rules/process.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
