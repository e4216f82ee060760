#!/usr/bin/env bash
# The main job: set up (once) and run the default campaign end to end on this machine.
#   bash envs/campaign.sh [extra snakemake arguments, e.g. --configfile config/x.yaml]
# Running it again resumes: finished chunks are kept, killed jobs are redone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash envs/setup.sh
source .venv/bin/activate
mkdir -p .snakemake
exec 9> .snakemake/campaign.flock
if ! flock -n 9; then
  echo "campaign.sh: another campaign is running in $(pwd); wait for it or stop it first" >&2
  exit 1
fi
# We hold the only campaign lock, so Snakemake locks left here are stale (a killed run).
if [ -n "$(ls -A .snakemake/locks 2>/dev/null)" ]; then
  echo "campaign.sh: removing the locks of a run that was killed" >&2
  snakemake --unlock "$@" >/dev/null
fi
snakemake --profile profiles/local "$@"
