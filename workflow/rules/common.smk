import json
import os
import sys

from microinv.config import (
    STAGE_CONFIG_KEYS,
    for_workflow,
    is_process_campaign,
    stage_config,
)
from microinv.data import layout
from microinv.data.atomic import write_json
from microinv.errors import InputError
from microinv.mpi_env import root_permission

# The campaign config, read as `microinv config` reads it: the --configfile on its own over
# the schema's defaults (the Snakefile declares no configfile for Snakemake to merge it
# over), else config/config.yaml; --config settings over either. A bad config stops the
# run before anything starts, with one line naming the file and the key.
try:
    resolved = for_workflow(
        config, workflow.overwrite_configfiles, default="config/config.yaml"
    )
except InputError as err:
    print(f"microinv: error: {err}", file=sys.stderr)
    raise SystemExit(2)
config.clear()
config.update(resolved)

# Open MPI refuses to start as root unless told; containers and CI run as root.
for key, value in root_permission().items():
    os.environ.setdefault(key, value)

CAMPAIGN = layout.campaign_folder(config)
CHUNKS = layout.chunk_ids(config)
PROPERTIES = config["solve"]["properties"]
RESOLVED_CONFIG = f"{CAMPAIGN}/{layout.CONFIG}"
TARGETS = config["design"]["targets"]
METHODS = config["design"]["methods"]
ABC_TARGETS = list(TARGETS) if "abc" in METHODS else []
BO_TARGETS = list(TARGETS) if "bo" in METHODS else []
REPORT = f"{CAMPAIGN}/report"
CRATE = f"{CAMPAIGN}/ro-crate-metadata.json"
# Report figures, ParaView XDMF files and the RO-Crate: part of final_outputs().
REPORT_OUTPUTS = [
    *expand(
        f"{REPORT}/{{property}}-{{figure}}.png",
        property=PROPERTIES,
        figure=["histograms", "joint", "porosity", "convergence"],
    ),
    f"{REPORT}/descriptors.png",
    *expand(
        f"{REPORT}/design/{{target}}/{{figure}}.png",
        target=ABC_TARGETS,
        figure=["posterior-marginals", "acceptance"],
    ),
    *expand(f"{REPORT}/design/{{target}}/bo-history.png", target=BO_TARGETS),
    f"{REPORT}/answer.html",
    f"{CAMPAIGN}/dataset.xdmf",
    *expand(f"{CAMPAIGN}/{layout.STRUCTURES.removesuffix('.h5')}.xdmf", chunk=CHUNKS),
    CRATE,
]


# config.json, the resolved config every job reads (an ancient() input), is written by the
# workflow, never at parse time: a dry run or --lint writes nothing. Rule resolved_config
# makes it for a new campaign; it has no input and no params, so it never runs again. For
# it to rerun on a config change would be wrong: it is upstream of every job, and Snakemake
# skips the params check of all descendants of a job that must run (they are masked behind
# it, and their ancient() input does not trigger them), so a changed config section would
# rerun nothing but that rule. Instead onstart rewrites it, just before the jobs of a real
# run start, and params.depends_on (config_slice) reruns the stages whose section changed.
def write_resolved_config(log=None):
    """Write the resolved config (every default filled in) if its content changed."""
    try:
        with open(RESOLVED_CONFIG) as fh:
            current = json.load(fh)
    except (OSError, ValueError):
        current = None
    if current != config:
        write_json(RESOLVED_CONFIG, config)
    if log:
        with open(log, "w") as fh:
            print(
                f"{RESOLVED_CONFIG}: {'unchanged' if current == config else 'written'}",
                file=fh,
            )


# Without config.json every job's ancient() input would be missing and each stage redone.
if not os.path.exists(RESOLVED_CONFIG) and os.path.exists(
    f"{CAMPAIGN}/{layout.SAMPLES.format(chunk=CHUNKS[0])}"
):
    print(
        f"microinv: error: {RESOLVED_CONFIG}: missing, but the campaign has results; write it "
        f"back with `microinv config <config file> -o {RESOLVED_CONFIG}` (a run without it "
        "would redo every stage)",
        file=sys.stderr,
    )
    raise SystemExit(2)


onstart:
    write_resolved_config()


def config_slice(stage):
    """The part of the config a stage depends on, as JSON (a change re-runs the rule)."""
    return json.dumps(stage_config(config, STAGE_CONFIG_KEYS[stage]), sort_keys=True)


wildcard_constraints:
    target="|".join(TARGETS) or "no-target",
    box="|".join(config.get("process_design", {}).get("boxes", {})) or "no-box",
    method="abc|bo",
    chunk=layout.CHUNK_PATTERN,


def gpu_resources():
    """SLURM GPU request of the GPU-capable rules (none when surrogate.gpus is 0)."""
    gpus = config["surrogate"]["gpus"]
    return {"gpu": gpus} if gpus else {}


# The RVE stage (microinv rve): the prior's guard and one rve.json per design.
RVE_OUTPUTS = (
    [
        f"{CAMPAIGN}/rve/prior.json",
        *expand(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/rve.json",
            target=TARGETS,
            method=METHODS,
        ),
    ]
    if config["rve"]["enabled"]
    else []
)

# A process campaign (a `process` section) designs boxes of log10 k with rules/process.smk.
PROCESS_CAMPAIGN = is_process_campaign(config)
PROCESS_BOXES = list(config["process_design"]["boxes"]) if PROCESS_CAMPAIGN else []
# The reference grid's parts, one job each (process_design.reference_points_per_job points).
PROCESS_GRID_PARTS = (
    [layout.chunk_id(part) for part in range(len(layout.grid_chunks(config)))]
    if PROCESS_CAMPAIGN
    else []
)
# The design's predictor of m: the surrogate checkpoint (an input of process_design) or none.
PROCESS_SURROGATE = (
    [f"{CAMPAIGN}/surrogate/model.ckpt"]
    if PROCESS_CAMPAIGN and config["process_design"]["predictor"] == "surrogate"
    else []
)


def process_outputs():
    """What a process campaign produces: dataset, surrogate, validated designs per box, figures."""
    return [
        f"{CAMPAIGN}/{layout.DATASET}",
        f"{CAMPAIGN}/report/structures.png",
        f"{CAMPAIGN}/surrogate/metrics.json",
        *expand(
            f"{CAMPAIGN}/design/{{box}}/process/validation.json", box=PROCESS_BOXES
        ),
        f"{REPORT}/process/p-map.png",
        f"{REPORT}/process/cloud.png",
    ]


def final_outputs():
    """Everything the campaign produces: dataset, surrogate, validated designs."""
    if PROCESS_CAMPAIGN:
        return process_outputs()
    return [
        f"{CAMPAIGN}/{layout.DATASET}",
        f"{CAMPAIGN}/report/structures.png",
        f"{CAMPAIGN}/surrogate/metrics.json",
        *expand(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/validation.json",
            target=TARGETS,
            method=METHODS,
        ),
        *REPORT_OUTPUTS,
        *RVE_OUTPUTS,
        *(
            [f"{CAMPAIGN}/active/summary.json", f"{REPORT}/active/discrepancy.png"]
            if config["active"]["rounds"]
            else []
        ),
    ]
