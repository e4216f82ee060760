#!/usr/bin/env bash
# The test suite: set up (once) and run every test on this machine.
#   bash envs/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash envs/setup.sh
source .venv/bin/activate
exec python -m pytest -ra "$@"
