#!/usr/bin/env bash
# Writes every Keras fixture back through `relapse resave` and has real Keras judge the copies
# (tools/keras_check.py). Needs the venv from tools/setup_venv.sh.
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
    case "$name" in ref-*|loss-*|train-data.h5) continue ;; esac
    "$relapse" resave "$fixture" "$work/$name"
    echo "$fixture $work/$name" >> "$pairs"
done

.venv/bin/python tools/keras_check.py --pairs-from "$pairs"
