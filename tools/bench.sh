#!/usr/bin/env bash
# Benchmark: trains one model on the same data in Relapse (release build) and in tf-keras, and
# in PyTorch when it is importable, alternating runs so that a noisy machine slows all alike.
# Prints the median images/s of each (first epoch of every run dropped: warm-up and
# tf.function tracing), the ratios of medians, and the peak RSS of each.
# Not a test: nothing gates on it.
#
# MODEL=seed (the default): fixtures/broken-lines-start.h5 (channels_first, Adam,
#   binary_crossentropy) on `relapse make-data`'s synthetic broken lines.
# MODEL=resnet: tools/resnet_bench.py's CIFAR-10-sized ResNet-20 (3x3 convolutions,
#   BatchNormalization, Add; 32x32x3, 10 classes, Adam), built by tf-keras into the bench's
#   scratch folder with random images and labels.
#
#   tools/bench.sh                     # seed: 8192 images, batch 256, 3 epochs, 2 rounds
#   SAMPLES=16384 ROUNDS=3 tools/bench.sh
#   MODEL=resnet tools/bench.sh        # resnet: 2048 images, batch 128, 3 epochs, 2 rounds
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bench_model="${MODEL:-seed}"
case "$bench_model" in
    seed) default_samples=8192 default_batch=256 ;;
    resnet) default_samples=2048 default_batch=128 ;;
    *) echo "bench: MODEL is seed or resnet, not '$bench_model'" >&2; exit 2 ;;
esac
samples="${SAMPLES:-$default_samples}" epochs="${EPOCHS:-3}" rounds="${ROUNDS:-2}" batch="${BATCH:-$default_batch}"
scratch="${SCRATCH:-.build}"
python="$repo/.venv/bin/python"
[[ -x "$python" ]] || { echo "bench: no .venv; run tools/setup_venv.sh first" >&2; exit 2; }

for product in relapse file-bench; do
    swift build -c release --scratch-path "$scratch" --product "$product" >/dev/null
done
relapse="$scratch/release/relapse"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ $bench_model == seed ]]; then
    model="fixtures/broken-lines-start.h5"
    "$relapse" make-data --synthetic "$samples" --out "$work/data.h5" >/dev/null
else
    model="$work/model.h5"
    "$python" tools/resnet_bench.py make "$work" "$samples" 2>/dev/null
fi

frameworks=(relapse tf-keras)
"$python" -c "import torch" 2>/dev/null && frameworks+=(torch)
echo "bench: $bench_model model, $samples images, batch $batch, $epochs epochs x $rounds rounds; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

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
                "$work/data.h5" "$epochs" "$batch" "$bench_model" >"$log" 2>"$work/$fw-$round.err"
            grep " epoch " "$log" >"$work/$fw-$round.epochs" || true
        fi
        echo "  round $round $fw: $(awk -v n="$samples" '{printf "%.0f ", n / $4}' "$work/$fw-$round.epochs")images/s"
    done
done

# Files, in process on both sides: loading the model into a runnable network with its
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
for other in ("tf-keras", "torch"):
    if rates.get("relapse") and rates.get(other):
        print(f"ratio Relapse / {other} (medians): {statistics.median(rates['relapse']) / statistics.median(rates[other]):.2f}x")
PY
