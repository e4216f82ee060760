import json
import math
import os
import shlex

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

# Open MPI refuses to start as root unless told; containers and CI run as root.
if os.geteuid() == 0:
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")

CAMPAIGN = f"results/{config['campaign']}"
CHUNKS = [
    f"{i:04d}"
    for i in range(
        math.ceil(config["samples"]["count"] / config["samples"]["per_chunk"])
    )
]
PROPERTIES = config["solve"]["properties"]


def config_slice(*keys):
    """The part of the config a rule depends on, as JSON (a change re-runs the rule)."""
    return json.dumps({k: config[k] for k in keys}, sort_keys=True)


def final_outputs():
    """Everything the default campaign produces."""
    return [
        f"{CAMPAIGN}/dataset.h5",
        f"{CAMPAIGN}/report/structures.png",
    ]
