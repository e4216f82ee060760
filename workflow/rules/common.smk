import json
import math
import os
import shlex

from snakemake.utils import validate

from microinv.config import STAGE_CONFIG_KEYS
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
