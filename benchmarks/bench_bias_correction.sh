#!/usr/bin/env bash
# The active-learning loop's bias correction on its own: redesign a finished campaign's
# first designs for t + b (b: the surrogate's bias on their solved validation structures),
# with the same surrogate, and validate on K structures of round 1's own seeds.
#   bash benchmarks/bench_bias_correction.sh [CAMPAIGN_FOLDER=results/default] [TARGET_NAME=reference] [OUT=results/bias-correction]
# Prints each redesign's validation line; compare with the first designs' validation.json.
set -euo pipefail
campaign=${1:-results/default}; name=${2:-reference}; out=${3:-results/bias-correction}
config=$campaign/config.json; surrogate=$campaign/surrogate/model.ckpt
target=$(python -c "import json,sys; print(*json.load(open(sys.argv[1]))['design']['targets'][sys.argv[2]])" "$config" "$name")
for method in bo abc; do
  first=$campaign/design/$name/$method; dest=$out/$name/$method
  common=(--surrogate "$surrogate" --config "$config" --target $target --campaign "$name" --round 1
          --bias-from "$first/design.json" "$first/validation/diffusivity.h5" "$first/validation/structures.h5")
  if [ "$method" = bo ]; then
    trials=$(python -c "import json,sys; d=json.load(open(sys.argv[1]))['design']; print(d['trials'] * d['workers'])" "$config")
    workers=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['design']['workers'])" "$config")
    for w in $(seq 0 $((workers - 1))); do
      microinv design bo "${common[@]}" --worker "$w" --total-trials "$trials" --no-design -o "$dest" &
    done
    wait
    microinv design bo "${common[@]}" --trials 0 --total-trials "$trials" -o "$dest"
  else
    microinv design abc "${common[@]}" -o "$dest"
  fi
  microinv generate "$dest/design.json" --config "$config" -o "$dest/validation/structures.h5"
  mpiexec -n 2 microinv solve diffusivity "$dest/validation/structures.h5" --config "$config" -o "$dest/validation/diffusivity.h5"
  microinv validate "$dest/design.json" "$dest/validation/diffusivity.h5" "$dest/validation/structures.h5" \
    --surrogate "$surrogate" -o "$dest/validation.json" 2>&1 | grep "solver mean"
done
