import json
import math
import os

from snakemake.utils import validate

from microinv.config import STAGE_CONFIG_KEYS, resolve
from microinv.data.atomic import write_json
from microinv.mpi_env import root_permission

validate(config, schema="../schemas/config.schema.yaml")

# Open MPI refuses to start as root unless told; containers and CI run as root.
for key, value in root_permission().items():
    os.environ.setdefault(key, value)

CAMPAIGN = f"results/{config['campaign']}"
CHUNKS = [
    f"{i:04d}"
    for i in range(
        math.ceil(config["samples"]["count"] / config["samples"]["per_chunk"])
    )
]
PROPERTIES = config["solve"]["properties"]
RESOLVED_CONFIG = f"{CAMPAIGN}/config.json"


def write_resolved_config():
    """Write the resolved config (every default filled in) if its content changed."""
    resolved = resolve(config, source="config")
    try:
        with open(RESOLVED_CONFIG) as fh:
            current = json.load(fh)
    except (OSError, ValueError):
        current = None
    if current != resolved:
        write_json(RESOLVED_CONFIG, resolved)


# config.json is written by the workflow, not by a rule. A rule making it would be upstream
# of every job; Snakemake then skips the params check of all its descendants (they are
# masked behind the job that must run, and their ancient() input does not trigger them), so
# a changed config section would rerun nothing but that rule. Written here on the first
# reading of a campaign (the jobs need it as an input), and refreshed just before the jobs
# of a real run start (not on a dry run).
if not os.path.exists(RESOLVED_CONFIG):
    write_resolved_config()


onstart:
    write_resolved_config()


def config_slice(stage):
    """The part of the config a stage depends on, as JSON (a change re-runs the rule)."""
    return json.dumps({k: config[k] for k in STAGE_CONFIG_KEYS[stage]}, sort_keys=True)


TARGETS = config["design"]["targets"]
METHODS = config["design"]["methods"]


wildcard_constraints:
    target="|".join(TARGETS) or "no-target",
    method="abc|bo",
    chunk=r"\d{4}",


def gpu_resources():
    """SLURM GPU request of the GPU-capable rules (none when surrogate.gpus is 0)."""
    gpus = config["surrogate"]["gpus"]
    return {"gpu": gpus} if gpus else {}


def final_outputs():
    """Everything the campaign produces: dataset, surrogate, validated designs."""
    return [
        f"{CAMPAIGN}/dataset.h5",
        f"{CAMPAIGN}/report/structures.png",
        f"{CAMPAIGN}/surrogate/metrics.json",
        *expand(
            f"{CAMPAIGN}/design/{{target}}/{{method}}/validation.json",
            target=TARGETS,
            method=METHODS,
        ),
        *REPORT_OUTPUTS,
    ]
