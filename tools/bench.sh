#!/usr/bin/env bash
# Benchmark: trains the seed model (fixtures/broken-lines-start.h5: channels_first, Adam,
# binary_crossentropy) on the same synthetic data in Relapse (release build) and in tf-keras,
# and in PyTorch when it is importable, alternating runs so that a noisy machine slows both
# alike. Prints the median images/s of each (first epoch of every run dropped: warm-up and
# tf.function tracing), the ratio Relapse / tf-keras, and the peak RSS of each.
# Not a test: nothing gates on it.
#
#   tools/bench.sh                     # 8192 images, batch 256, 3 epochs, 2 rounds
#   SAMPLES=16384 ROUNDS=3 tools/bench.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
samples="${SAMPLES:-8192}" epochs="${EPOCHS:-3}" rounds="${ROUNDS:-2}" batch="${BATCH:-256}"
scratch="${SCRATCH:-.build}"
python="$repo/.venv/bin/python"
model="fixtures/broken-lines-start.h5"
[[ -x "$python" ]] || { echo "bench: no .venv; run tools/setup_venv.sh first" >&2; exit 2; }

for product in relapse file-bench; do
    swift build -c release --scratch-path "$scratch" --product "$product" >/dev/null
done
relapse="$scratch/release/relapse"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$relapse" make-data --synthetic "$samples" --out "$work/data.h5" >/dev/null

frameworks=(relapse tf-keras)
"$python" -c "import torch" 2>/dev/null && frameworks+=(torch)
echo "bench: $samples images, batch $batch, $epochs epochs x $rounds rounds; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

for round in $(seq "$rounds"); do
    for fw in "${frameworks[@]}"; do
        log="$work/$fw-$round.log"
        if [[ $fw == relapse ]]; then
            /usr/bin/time -f "rss_kb %M" -o "$work/$fw-$round.rss" "$relapse" train "$model" --data "$work/data.h5" \
                --batch-size "$batch" --epochs "$epochs" --checkpoints "$work/run-$round" >"$log"
            # "epoch K: S.Ss - ..." -> "relapse epoch K S"
            sed -n 's/^epoch \([0-9]*\): \([0-9.]*\)s.*/relapse epoch \1 \2/p' "$log" >"$work/$fw-$round.epochs"
        else
            /usr/bin/time -f "rss_kb %M" -o "$work/$fw-$round.rss" "$python" tools/bench_keras.py "$fw" "$model" \
                "$work/data.h5" "$epochs" "$batch" >"$log" 2>"$work/$fw-$round.err"
            grep " epoch " "$log" >"$work/$fw-$round.epochs" || true
        fi
        echo "  round $round $fw: $(awk -v n="$samples" '{printf "%.0f ", n / $4}' "$work/$fw-$round.epochs")images/s"
    done
done

# Files, in process on both sides: loading the seed model into a runnable network with its
# weights (tf-keras: load_model), and writing a trained checkpoint with its Adam state
# (tf-keras: model.save to h5).
checkpoint="$(ls "$work"/run-1/epoch-*.h5 | tail -1)"
"$scratch/release/file-bench" "$model" "$checkpoint" 5 >"$work/files.log"
"$python" tools/bench_keras.py files "$model" "$checkpoint" 5 >>"$work/files.log" 2>/dev/null
echo "files: checkpoint $(($(stat -c %s "$checkpoint") / 1000000)) MB (weights + Adam state)"
python3 - "$work/files.log" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    fw, what, ms = line.split()
    times.setdefault((fw, what), []).append(float(ms))
for (fw, what), ms in sorted(times.items()):
    print(f"  {fw:9} {what:10} median {statistics.median(ms):7.0f} ms  (min {min(ms):.0f}, max {max(ms):.0f})")
PY

python3 - "$work" "$samples" "${frameworks[@]}" <<'PY'
import glob, statistics, sys
work, samples, frameworks = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rates, rss = {}, {}
for fw in frameworks:
    r = []
    for path in glob.glob(f"{work}/{fw}-*.epochs"):
        for line in open(path):
            _, _, epoch, seconds = line.split()[:4]
            if int(epoch) > 1 and float(seconds) > 0:
                r.append(samples / float(seconds))
    rates[fw] = r
    rss[fw] = max(int(open(p).read().split()[-1]) for p in glob.glob(f"{work}/{fw}-*.rss")) / 1024
print(f"{'':10} {'median':>8} {'min':>8} {'max':>8}  images/s   peak RSS")
for fw in frameworks:
    r = rates[fw]
    if r:
        print(f"{fw:10} {statistics.median(r):8.0f} {min(r):8.0f} {max(r):8.0f}             {rss[fw]:6.0f} MB")
if rates.get("relapse") and rates.get("tf-keras"):
    print(f"ratio Relapse / tf-keras (medians): {statistics.median(rates['relapse']) / statistics.median(rates['tf-keras']):.2f}x")
PY
