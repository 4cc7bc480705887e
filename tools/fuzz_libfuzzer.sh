#!/usr/bin/env bash
# libFuzzer over Relapse's readers (docs/RELIABILITY.md, "Fuzzing"): builds the relapse-fuzz
# product with -sanitize=fuzzer,address in its own scratch folder, seeds a corpus from the
# fixtures (those under 2 MB), and fuzzes in fork mode so a crash inside libhdf5 costs one
# child, not the run. Findings go to OUT/artifacts; replay one with
#   .build/debug/relapse-fuzz OUT/artifacts/crash-...      (plain build: prints the outcome)
#   .build-fuzz/debug/relapse-fuzz OUT/artifacts/crash-... (ASan build: the report)
#
#   tools/fuzz_libfuzzer.sh [SECONDS [OUT]]      # default 1800 s into /tmp/relapse-fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-1800}"
out="${2:-/tmp/relapse-fuzz}"
nice swift build --product relapse-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DRELAPSE_FUZZ -Xswiftc -parse-as-library
mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts"
find fixtures -type f -size -2M \( -name '*.h5' -o -name '*.keras' \) -exec cp {} "$out/seeds/" \;
# allocator_may_return_null: an absurd malloc inside libhdf5 fails as it would without ASan
# (libhdf5 reports it) instead of aborting; -malloc_limit_mb flags any single allocation over
# 1200 MB, a little above the 1 GiB budget the target sets.
ASAN_OPTIONS=allocator_may_return_null=1 nice -n 19 .build-fuzz/debug/relapse-fuzz \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -timeout=20 \
    -rss_limit_mb=3072 -malloc_limit_mb=1200 -max_total_time="$seconds" \
    -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds" 2>&1 | tee "$out/log.txt"
