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
# The self-contained HTML report lands in the campaign's folder once the run has finished;
# the campaign name is read from the config file Snakemake will use (the last --configfile, or --config campaign=...).
campaign=$(python - "$@" <<'PY'
import sys
from microinv import config
from microinv.errors import InputError
args, path, override = sys.argv[1:], "config/config.yaml", None
for i, arg in enumerate(args):
    if arg == "--configfile":
        path = next((a for a in args[i + 1:] if not a.startswith("-")), path)
    elif arg.startswith("--configfile="):
        path = arg.split("=", 1)[1]
    elif arg == "--config":  # --config campaign=name overrides the file
        for item in args[i + 1:]:
            if item.startswith("-"):
                break
            if item.startswith("campaign="):
                override = item.split("=", 1)[1]
try:  # Snakemake would report a missing or unparseable file in a traceback
    data = config.read(path)
except InputError as err:
    sys.exit(f"microinv: error: {err}")
print(override or (data.get("campaign", "default") if isinstance(data, dict) else "default"))
PY
)
snakemake --profile profiles/local "$@" --report-after-run --report "results/${campaign}/report.html"
