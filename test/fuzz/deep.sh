#!/usr/bin/env bash
# The deep fuzz run (CI step; docs/development.md): ALIAS_FUZZ_RUNS cases per endpoint
# (default 10000) on SQLite, in one process with one worker thread per core
# (ALIAS_FUZZ_WORKERS; each group of templates goes to the next free worker); fails if any
# group fails. ALIAS_FUZZ_SEED changes the seed (fixed by default: reproducible).
set -euo pipefail
cd "$(dirname "$0")/../.."
export ALIAS_FUZZ_RUNS="${ALIAS_FUZZ_RUNS:-10000}" ALIAS_FUZZ_DATABASES=sqlite ALIAS_FUZZ_NO_SHRINK="${ALIAS_FUZZ_NO_SHRINK:-1}"
export ALIAS_FUZZ_WORKERS="${ALIAS_FUZZ_WORKERS:-$(nproc)}"
# The throwaway databases on a RAM disk where there is one: a checkpoint's fsync costs
# about 9 ms on the CI machine's disk and blocks its worker meanwhile.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
exec node --import tsx --test --test-reporter=spec test/fuzz/endpoints.test.ts
