#!/usr/bin/env bash
# The deep fuzz run (CI step; docs/development.md): ALIAS_FUZZ_RUNS cases per endpoint
# (default 1000) on SQLite, split over one process per core (ALIAS_FUZZ_SHARD); fails if
# any shard fails. ALIAS_FUZZ_SEED changes the seed (fixed by default: reproducible).
set -uo pipefail
cd "$(dirname "$0")/../.."
shards="${ALIAS_FUZZ_SHARDS:-$(nproc)}"
export ALIAS_FUZZ_RUNS="${ALIAS_FUZZ_RUNS:-1000}" ALIAS_FUZZ_DATABASES=sqlite ALIAS_FUZZ_NO_SHRINK="${ALIAS_FUZZ_NO_SHRINK:-1}"
pids=()
for i in $(seq 1 "$shards"); do
  ALIAS_FUZZ_SHARD="$i/$shards" node --import tsx --test --test-reporter=spec test/fuzz/endpoints.test.ts \
    > >(sed "s/^/[fuzz $i\/$shards] /") 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
