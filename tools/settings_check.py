#!/usr/bin/env python3
"""Judge Relapse on the settings matrix (tools/settings_matrix.py): each case either trains one
epoch like Keras's own fit, or is refused by name.

usage: .venv/bin/python tools/settings_check.py --relapse BIN --cases DIR [--jobs N]
                                                [--keep-going] [FILTER ...]

For each case of DIR/manifest.json (only those whose id contains one of the FILTERs, if given):
  relapse train DIR/<case>/start.h5 --data DIR/<data> --epochs 1 --batch-size B --no-shuffle
                --checkpoints OUT
  match   exit 0; the epoch-1 loss of OUT/history.csv within 1e-5 relative of Keras's
          history['loss'][0]; every weight tensor of OUT's epoch checkpoint within 1e-4 relative
          L2 of Keras's after.h5 (matched by layer and position); on failure the worst output
          channels are listed (max pooling near-ties move single channels: see DESIGN.md)
  refuse  exit 2; exactly one stderr line, naming the start file and one of the case's names;
          OUT absent or empty
  trains  exit 0 and an epoch checkpoint with Keras's weight shapes (values not compared)
  skip    not run; the manifest says why (a case Keras failed to make, not marked skip in
          EXPECT, is a failure: the settings it covers would be judged by nothing)
One line per case ("PASS", "FAIL" or "SKIP", the case id, what was seen), then a closing line
"N passed, M failed" alone. Exit status 1 on any failure. Without --keep-going, the first
failure stops further cases from starting (those running finish).
A match case whose Keras result is within 10x the tolerance of its parent's (the same model
without the setting) gets "(weak: ...)" appended: ignoring the setting might pass there.
"""
import argparse
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_check import layer_weights  # noqa: E402

LOSS_TOL = 1e-5
WEIGHT_TOL = 1e-4


def weights(path):
    with h5py.File(path, "r") as f:
        return [(layer, i, name, np.asarray(w)) for layer, ws in layer_weights(f) for i, (name, w) in enumerate(ws)]


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


def per_channel(ours, theirs):
    """The worst output channels (last axis) by relative L2, as text."""
    if ours.ndim < 2:
        return ""
    o = ours.reshape(-1, ours.shape[-1]).astype(np.float64)
    t = theirs.reshape(-1, theirs.shape[-1]).astype(np.float64)
    rel = np.linalg.norm(o - t, axis=0) / np.maximum(np.linalg.norm(t, axis=0), 1e-12)
    bad = int((rel > WEIGHT_TOL).sum())
    worst = np.argsort(-rel)[:3]
    return f" [{bad}/{len(rel)} channels above; worst " + ", ".join(f"#{c} {rel[c]:.2g}" for c in worst) + "]"


def run_case(relapse, root, case, work):
    """(ok, text) for one case."""
    if case["expect"] == "skip":
        if case.get("keras_failed"):
            # The case was meant to be judged: Keras could not make it, so the setting it
            # covers (tools/test_settings_matrix.py counts it) is judged by nothing.
            return False, f"not judged: {case.get('reason', '')}"
        return None, case.get("reason", "")
    start = os.path.join(root, case["id"], "start.h5")
    out = os.path.join(work, case["id"])
    cmd = [relapse, "train", start, "--data", os.path.join(root, case["data"]), "--epochs", "1",
           "--batch-size", str(case["batch_size"]), "--no-shuffle", "--checkpoints", out]
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return False, "relapse ran over 600 s"
    err_lines = [line for line in p.stderr.splitlines() if line.strip()]
    first_err = err_lines[0][:300] if err_lines else ""
    written = sorted(os.listdir(out)) if os.path.isdir(out) else []

    if case["expect"] == "refuse":
        names = case["names"]
        problems = []
        if p.returncode != 0 and p.returncode != 2:
            problems.append(f"exit {p.returncode}")
        elif p.returncode == 0:
            problems.append("exit 0 (trained)")
        if p.returncode != 0:
            if len(err_lines) != 1:
                problems.append(f"{len(err_lines)} stderr lines")
            if err_lines and start not in err_lines[0]:
                problems.append("stderr does not name the file")
            # The names are looked for beside the file's path, which holds the case's name
            # ("bn-renorm"): a line naming only the file must not pass for naming the setting.
            if err_lines and not any(n in err_lines[0].replace(start, "") for n in names):
                problems.append(f"stderr names none of {names}")
        if written:
            problems.append(f"wrote {written[:3]}")
        if problems:
            return False, "; ".join(problems) + (f": {first_err}" if first_err else "")
        return True, f"refused: {first_err}"

    if p.returncode != 0:
        return False, f"exit {p.returncode}: {first_err}"
    checkpoints = sorted(glob.glob(os.path.join(out, "epoch-*.h5")))
    if not checkpoints:
        return False, f"exit 0 but no epoch checkpoint in {written}"
    ours = weights(checkpoints[-1])
    if case["expect"] == "trains":
        theirs = weights(os.path.join(root, case["id"], "start.h5"))
        shapes = [w.shape for *_, w in ours] == [w.shape for *_, w in theirs]
        return shapes, "trained" if shapes else "weight shapes differ from the start file's"

    problems = []
    try:
        with open(os.path.join(out, "history.csv")) as f:
            ours_loss = float(next(csv.DictReader(f))["loss"])
    except (OSError, StopIteration, KeyError, ValueError) as e:
        return False, f"no epoch loss in history.csv ({e})"
    ref = case["reference_loss"]
    loss_rel = abs(ours_loss - ref) / max(abs(ref), 1e-12)
    if not loss_rel <= LOSS_TOL:
        problems.append(f"loss {ours_loss:.9g} vs Keras {ref:.9g} (rel {loss_rel:.2g})")
    theirs = weights(os.path.join(root, case["id"], "after.h5"))
    if [(l, i) for l, i, *_ in ours] != [(l, i) for l, i, *_ in theirs]:
        problems.append(f"weights differ in layout: {[(l, i) for l, i, *_ in ours]} vs {[(l, i) for l, i, *_ in theirs]}")
    worst = 0.0
    for (layer, i, _, a), (_, _, name, b) in zip(ours, theirs):
        if a.shape != b.shape:
            problems.append(f"{layer}/{name} shape {a.shape} vs {b.shape}")
            continue
        r = rel_l2(a, b)
        worst = max(worst, r)
        if not r <= WEIGHT_TOL:
            if not np.any(b):  # a zero reference (a frozen or constrained bias): say how far
                problems.append(f"{layer}/{name} rel L2 inf (Keras's is all zero; ours has L2 "
                                f"{np.linalg.norm(a.astype(np.float64)):.2g})")
                continue
            problems.append(f"{layer}/{name} rel L2 {r:.2g}" + per_channel(a, b))
    if problems:
        return False, "; ".join(problems)
    text = f"loss rel {loss_rel:.1g}, worst weight rel {worst:.1g}"
    s = case.get("sensitivity")
    if s and not case.get("inert") and max(s["weights"] / WEIGHT_TOL, s["loss"] / LOSS_TOL) < 10:
        text += f" (weak: parent differs by weights {s['weights']:.1g}, loss {s['loss']:.1g})"
    return True, text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--relapse", required=True)
    ap.add_argument("--cases", required=True, help="the folder tools/settings_matrix.py wrote")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep-going", action="store_true")
    ap.add_argument("--work", help="keep Relapse's outputs here (default: a temporary folder)")
    ap.add_argument("filters", nargs="*", help="only cases whose id contains one of these")
    args = ap.parse_args()
    with open(os.path.join(args.cases, "manifest.json")) as f:
        cases = json.load(f)["cases"]
    if args.filters:
        cases = [c for c in cases if any(s in c["id"] for s in args.filters)]
    if not cases:
        print("settings_check: no cases", file=sys.stderr)
        return 2
    work = args.work or tempfile.mkdtemp(prefix="settings-check-")
    os.makedirs(work, exist_ok=True)
    relapse = os.path.abspath(args.relapse)
    root = os.path.abspath(args.cases)
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"pass": 0, "fail": 0, "skip": 0}

    def one(case):
        if stop.is_set():
            return
        try:
            ok, text = run_case(relapse, root, case, work)
        except Exception as e:  # a broken checkpoint is a failure of that case, not of the check
            ok, text = False, f"{type(e).__name__}: {e}"
        with lock:
            tag = "SKIP" if ok is None else "PASS" if ok else "FAIL"
            counts[tag.lower()] += 1
            print(f"{tag} {case['id']} ({case['expect']}): {text}", flush=True)
            if ok is False and not args.keep_going:
                stop.set()

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, cases))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if counts["skip"]:
        print(f"({counts['skip']} skipped: not judged)")
    print(f"{counts['pass']} passed, {counts['fail']} failed")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
