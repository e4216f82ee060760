#!/usr/bin/env bash
# Redesign a finished campaign's first designs another way and validate each on K structures
# of round 1's own seeds (fresh: no structure of the first validation), with the same surrogate.
#   bash benchmarks/bench_redesign.sh MODE [CAMPAIGN=results/default] [TARGET_NAME=reference] [OUT=results/redesign-MODE]
# MODE: refine  the search's designs refined (design.refine_evaluations, its default); the
#               ABC run and the BO study are reused, so only the refinement runs
#       found   the search's designs as found (--refine-evaluations 0), for comparison
#       bias    designed for t + b, b the surrogate's bias on the first designs' solved
#               validation structures (--bias-from), not refined
# Prints each redesign's validation line; compare with the first designs' validation.json.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then  # Open MPI refuses root unless told twice
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mode=${1:?MODE: refine, found or bias}; campaign=${2:-results/default}; name=${3:-reference}
out=${4:-results/redesign-$mode}
config=$campaign/config.json; surrogate=$campaign/surrogate/model.ckpt
read_config() { python -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$config"; }
target=$(read_config "*d['design']['targets']['$name']")
trials=$(read_config "d['design']['trials'] * d['design']['workers']")
for method in abc bo; do
  first=$campaign/design/$name/$method; dest=$out/$name/$method
  mkdir -p "$dest"
  options=(--surrogate "$surrogate" --config "$config" --target $target --campaign "$name" --round 1)
  case $mode in
    found) options+=(--refine-evaluations 0) ;;
    bias) options+=(--refine-evaluations 0
                    --bias-from "$first/design.json" "$first/validation/diffusivity.h5" "$first/validation/structures.h5") ;;
  esac
  if [ "$mode" != bias ]; then  # the same search: resume it rather than run it again
    cp "$first/posterior.h5" "$dest/" 2>/dev/null || cp "$first/study.journal" "$dest/"
  fi
  if [ "$method" = bo ]; then
    if [ "$mode" = bias ]; then  # another objective: a study of its own, its two workers
      microinv design bo "${options[@]}" --worker 0 --total-trials "$trials" --no-design -o "$dest" &
      microinv design bo "${options[@]}" --worker 1 --total-trials "$trials" --no-design -o "$dest" &
      wait
    fi
    microinv design bo "${options[@]}" --trials 0 --total-trials "$trials" -o "$dest"
  else
    microinv design abc "${options[@]}" -o "$dest"
  fi
  microinv generate "$dest/design.json" --config "$config" -o "$dest/validation/structures.h5"
  mpiexec -n 2 microinv solve diffusivity "$dest/validation/structures.h5" --config "$config" \
    -o "$dest/validation/diffusivity.h5"
  microinv validate "$dest/design.json" "$dest/validation/diffusivity.h5" "$dest/validation/structures.h5" \
    --surrogate "$surrogate" -o "$dest/validation.json" 2>&1 | grep "solver mean"
done
