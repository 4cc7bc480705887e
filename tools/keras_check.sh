#!/usr/bin/env bash
# Writes every Keras fixture back through `relapse resave`, trains checkpoints from several
# producers' files, and has real Keras judge them all (tools/keras_check.py). Needs the venv
# from tools/setup_venv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --product relapse >/dev/null
relapse="$(swift build --show-bin-path)/relapse"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pairs="$work/pairs.txt"
: > "$pairs"
for fixture in fixtures/*.h5; do
    name="$(basename "$fixture")"
    case "$name" in ref-*|loss-*|string-*|train-data.h5|*.weights.h5) continue ;; esac
    "$relapse" resave "$fixture" "$work/$name"
    echo "$fixture $work/$name" >> "$pairs"
done

# Checkpoints Relapse trained, from each producer's file: Keras must load them with their
# optimizer state (each is its own reference: the loaded model must equal the file).
for start in train-start-adam.h5 keras22-adam.h5 keras3-adam-trained.h5 tfk-rmsprop-trained.h5; do
    "$relapse" train "fixtures/$start" --data fixtures/train-data.h5 --epochs 2 --batch-size 64 \
        --checkpoints "$work/run-$start" >/dev/null
    echo "$work/run-$start/epoch-0002.h5 $work/run-$start/epoch-0002.h5" >> "$pairs"
done

.venv/bin/python tools/keras_check.py --pairs-from "$pairs"
