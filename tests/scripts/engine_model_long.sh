#!/usr/bin/env bash
# The model-based engine test at length: many seeds, thousands of steps each.
# make test-long runs it; STRATA_MODEL_SEEDS / STRATA_MODEL_STEPS change the size.
set -euo pipefail
bin="${STRATA_BUILD:-build}/test_engine_model"
steps="${STRATA_MODEL_STEPS:-4000}"
for seed in ${STRATA_MODEL_SEEDS:-11 12 13 14 15 16 17 18}; do
    echo "seed $seed, $steps steps"
    STRATA_SEED=$seed STRATA_MODEL_STEPS=$steps "$bin"
done
echo "1 passed, 0 failed"
