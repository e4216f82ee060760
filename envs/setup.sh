#!/usr/bin/env bash
# One-shot, idempotent set-up of a Debian machine for microinv.
#
#   bash envs/setup.sh
#
# 1. system packages (Open MPI, BLAS/LAPACK, SLURM + munge for the SLURM profile tests)
# 2. a virtual environment in .venv with microinv and its test extras (pytest, snakefmt, and
#    the peers TauFactor, pyABC and lbmpy)
#
# PETSc and petsc4py build from source through pip the first time (about 20 minutes on
# 2 cores); pip keeps the built wheels in its cache (~/.cache/pip), so later set-ups,
# fresh clones included, install them in seconds. A stamp file skips pip entirely when
# pyproject.toml has not changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

# g++: lbmpy (the LBM test peer) compiles its generated kernels with it
APT_PACKAGES=(libopenmpi-dev openmpi-bin libopenblas-dev liblapack-dev gfortran g++
              slurm-wlm munge chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.microinv-setup-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] pip install (PETSc compiles from source on the first run: ~20 min)"
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  # petsc4py compiles against the petsc wheel; numpy and cython must be there first.
  .venv/bin/python -m pip install -q numpy cython
  .venv/bin/python -m pip install -q petsc==3.26.1
  .venv/bin/python -m pip install -q petsc4py==3.26.1
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi
echo "[setup] ready: $(.venv/bin/python -c 'import microinv, petsc4py; print("microinv", microinv.__version__, "petsc4py", petsc4py.__version__)')"
