#!/usr/bin/env bash
# The main job: set up (once) and run the default campaign end to end on this machine.
#   bash envs/campaign.sh [extra snakemake arguments, e.g. --configfile config/x.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
bash envs/setup.sh
source .venv/bin/activate
exec snakemake --profile profiles/local "$@"
