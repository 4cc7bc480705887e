#!/usr/bin/env python3
"""Kill test: SIGKILL a training run at random moments and check that nothing is lost.

A chain trains a small model to epoch N in one checkpoint folder, killing the run with SIGKILL
at a random moment, then resuming from the newest epoch-*.h5 (or starting again when there is
none), killing that, and so on until epoch N is written. About a third of the kills wait for a
checkpoint's temporary file to appear and kill while it is being written. After every kill:

- every epoch-NNNN.h5 passes `relapse inspect` (a full read: config, every weight, optimizer
  state) and records epoch NNNN in its Relapse state;
- best.h5, if present, is a complete checkpoint of an epoch no later than the newest one, equal
  bit for bit to that epoch's checkpoint, with that epoch's loss the lowest in its history;
- history.csv, if present, holds complete rows 1..k with k <= the newest epoch, each row equal to
  the newest checkpoint's recorded history;
- the only temporary files are hidden `.NAME.relapse-tmp.PID.RANDOM` files of killed processes (a new run or
  resume removes those of dead processes before its first epoch; one killed before that point
  leaves them for the next), and none is left once a chain has finished.

When a chain reaches epoch N, its epoch-N.h5 must equal an uninterrupted run's bit for bit:
every weight, every optimizer array, Relapse's state (history, RNG states), and history.csv.

Needs h5py (run with the venv's Python: .venv/bin/python tools/kill_test.py).

    .venv/bin/python tools/kill_test.py --kills 60               # CI's short form
    .venv/bin/python tools/kill_test.py --kills 300 --config both  # the long form
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMP = re.compile(r"^\.(epoch-\d{4}\.h5|best\.h5|history\.csv)\.relapse-tmp\.(\d+)\.[A-Za-z0-9]{10}$")

CONFIGS = {
    # A small channels_first CNN on 256 8x8 images: epochs of a fraction of a second, many checkpoints.
    "small": dict(model="fixtures/train-start-adam.h5", epochs=8,
                  flags=["--data", "fixtures/train-data.h5", "--batch-size", "16", "--seed", "3",
                         "--validation-split", "0.25"]),
    # The question's model (2.1M parameters, 8 MB checkpoints) on 48 synthetic images: the
    # checkpoint write is a large share of each epoch.
    "seed": dict(model="fixtures/broken-lines-start.h5", epochs=5,
                 flags=["--synthetic", "48", "--batch-size", "16", "--seed", "5"]),
}


class Failure(Exception):
    pass


def relapse(args, *argv, timeout=600):
    return subprocess.run([args.relapse, *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def state_of(path):
    with h5py.File(path, "r") as f:
        return json.loads(f["relapse"].attrs["state"])


def arrays_of(path):
    """Every dataset under model_weights and optimizer_weights: name -> (dtype, shape, bytes)."""
    result = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                value = obj[()]
                result[name] = (str(obj.dtype), obj.shape, np.asarray(value).tobytes())
        for group in ["model_weights", "optimizer_weights"]:
            if group in f:
                f[group].visititems(lambda n, o, g=group: visit(g + "/" + n, o))
    return result


def epoch_files(folder):
    return sorted(glob.glob(os.path.join(folder, "epoch-[0-9][0-9][0-9][0-9].h5")))


def check_folder(args, folder, killed_pids, stats):
    """The invariants that must hold after any kill."""
    names = os.listdir(folder)
    for name in names:
        match = TEMP.match(name)
        if match:
            stats["temp files seen"] += 1
            if int(match.group(2)) not in killed_pids:
                raise Failure(f"{name}: a temporary file of a process that was not killed")
        elif name not in ("best.h5", "history.csv", ".relapse.lock") and not re.match(r"^epoch-\d{4}\.h5$", name):
            raise Failure(f"unexpected file {name} in {folder}")
    epochs = epoch_files(folder)
    newest_state = None
    for path in epochs:
        result = relapse(args, "inspect", path)
        if result.returncode != 0:
            raise Failure(f"{path} does not load after a kill: {result.stderr.strip()}")
        state = state_of(path)
        number = int(os.path.basename(path)[6:10])
        if state["epoch"] != number or len(state["history"]) != number:
            raise Failure(f"{path} records epoch {state['epoch']} with {len(state['history'])} history rows")
        newest_state = state
        stats["checkpoints verified"] += 1
    newest = newest_state["epoch"] if newest_state else 0
    best = os.path.join(folder, "best.h5")
    if os.path.exists(best):
        result = relapse(args, "inspect", best)
        if result.returncode != 0:
            raise Failure(f"best.h5 does not load after a kill: {result.stderr.strip()}")
        state = state_of(best)
        if state["bestEpoch"] != state["epoch"] or state["epoch"] > newest:
            raise Failure(f"best.h5 is epoch {state['epoch']} (best {state['bestEpoch']}), newest checkpoint {newest}")
        monitor = state["bestMonitor"]
        values = [row["values"][monitor] for row in state["history"]]
        if min(values) != values[-1]:
            raise Failure(f"best.h5's {monitor} {values[-1]} is not the lowest in its history {values}")
        twin = os.path.join(folder, "epoch-%04d.h5" % state["epoch"])
        if os.path.exists(twin) and arrays_of(twin) != arrays_of(best):
            raise Failure(f"best.h5 differs from {twin}")
    history = os.path.join(folder, "history.csv")
    if os.path.exists(history):
        text = open(history).read()
        if not text.endswith("\n"):
            raise Failure("history.csv ends in a partial line")
        lines = text.splitlines()
        header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
        if header[0] != "epoch" or any(len(row) != len(header) for row in rows):
            raise Failure(f"history.csv is malformed: {text!r}")
        if [int(row[0]) for row in rows] != list(range(1, len(rows) + 1)) or len(rows) > newest:
            raise Failure(f"history.csv has epochs {[row[0] for row in rows]}; newest checkpoint {newest}")
        recorded = newest_state["history"]
        for row in rows:
            values = recorded[int(row[0]) - 1]["values"]
            for key, cell in zip(header[1:], row[1:]):
                if key in values and float(cell) != values[key]:
                    raise Failure(f"history.csv epoch {row[0]} {key} {cell} != checkpoint's {values[key]}")
    return newest


def start(args, config, folder, newest):
    model = os.path.join(ROOT, config["model"])
    flags = [os.path.join(ROOT, f) if f.startswith("fixtures/") else f for f in config["flags"]]
    if newest == 0:
        argv = ["train", model, "--epochs", str(config["epochs"]), "--checkpoints", folder] + flags
    else:
        # --checkpoints FOLDER: continue the run in its own folder (a plain resume writes a new
        # branch folder beside the checkpoint).
        argv = ["resume", os.path.join(folder, "epoch-%04d.h5" % newest), "--epochs", str(config["epochs"] - newest),
                "--checkpoints", folder]
    return subprocess.Popen([args.relapse, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)


def kill_during_write(process, folder, deadline):
    """Waits for a checkpoint's temporary file to appear, then kills (or gives up at the deadline)."""
    while time.time() < deadline and process.poll() is None:
        try:
            if any(TEMP.match(name) for name in os.listdir(folder)):
                os.kill(process.pid, 9)
                return True
        except FileNotFoundError:
            pass
    return False


def chain(args, name, config, reference, workdir, rng, stats):
    folder = os.path.join(workdir, f"chain-{stats['chains']}")
    os.makedirs(folder)
    newest = 0
    kills_here = 0
    killed_pids = set()
    finished = False
    while newest < config["epochs"]:
        process = start(args, config, folder, newest)
        started = time.time()
        remaining = reference["seconds"] * (config["epochs"] - newest) / config["epochs"]
        mode = rng.random()
        killed = False
        if kills_here < args.max_kills_per_chain and mode < 0.35:
            killed = kill_during_write(process, folder, started + remaining * 2 + 5)
            if killed:
                stats["kills aimed at a write"] += 1
        elif kills_here < args.max_kills_per_chain:
            try:
                process.wait(timeout=rng.uniform(0, remaining * 1.1))
            except subprocess.TimeoutExpired:
                os.kill(process.pid, 9)
                killed = True
        _, err = process.communicate()
        if killed and process.returncode != -9:
            killed = False  # it finished before the signal landed
        if killed:
            killed_pids.add(process.pid)
            stats["kills"] += 1
            kills_here += 1
            if any(TEMP.match(n) for n in os.listdir(folder)):
                stats["kills that left a temporary file"] += 1
        elif process.returncode != 0:
            raise Failure(f"run exited {process.returncode}: {err.decode().strip()}")
        else:
            finished = True
        newest = check_folder(args, folder, killed_pids, stats)
        stats["seconds killed into"] .append(round(time.time() - started, 3))
    final = os.path.join(folder, "epoch-%04d.h5" % config["epochs"])
    if arrays_of(final) != reference["arrays"]:
        raise Failure(f"{final} differs from the uninterrupted run's weights or optimizer state")
    if state_of(final) != reference["state"]:
        raise Failure(f"{final}'s Relapse state differs from the uninterrupted run's")
    if not finished:
        # Killed after writing epoch N's checkpoint but before best.h5 or history.csv: those
        # lag (checked above); the checkpoint itself holds the whole history.
        stats["chains killed after their last checkpoint"] += 1
    elif open(os.path.join(folder, "history.csv")).read() != reference["history"]:
        raise Failure(f"{folder}/history.csv differs from the uninterrupted run's")
    if finished and any(TEMP.match(n) for n in os.listdir(folder)):
        raise Failure(f"temporary files left after the chain finished: {os.listdir(folder)}")
    stats["bit-identical resumes"] += 1
    stats["chains"] += 1
    shutil.rmtree(folder)


def make_reference(args, config, workdir):
    folder = os.path.join(workdir, "reference")
    os.makedirs(folder)
    started = time.time()
    process = start(args, config, folder, 0)
    _, err = process.communicate()
    if process.returncode != 0:
        raise Failure(f"the uninterrupted run failed: {err.decode().strip()}")
    final = os.path.join(folder, "epoch-%04d.h5" % config["epochs"])
    reference = {"seconds": time.time() - started, "arrays": arrays_of(final), "state": state_of(final),
                 "history": open(os.path.join(folder, "history.csv")).read()}
    # The state names the data by absolute path and records no folder, so chains compare equal.
    shutil.rmtree(folder)
    return reference


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build/debug/relapse"))
    parser.add_argument("--kills", type=int, default=60, help="kills per configuration")
    parser.add_argument("--config", choices=["small", "seed", "both"], default="small")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-kills-per-chain", type=int, default=8)
    args = parser.parse_args()
    args.relapse = os.path.abspath(args.relapse)
    rng = random.Random(args.seed)
    names = ["small", "seed"] if args.config == "both" else [args.config]
    summary = {"seed": args.seed}
    for name in names:
        config = CONFIGS[name]
        workdir = tempfile.mkdtemp(prefix=f"relapse-kill-{name}-")
        stats = {"kills": 0, "kills aimed at a write": 0, "chains killed after their last checkpoint": 0, "kills that left a temporary file": 0,
                 "temp files seen": 0, "checkpoints verified": 0, "chains": 0, "bit-identical resumes": 0,
                 "seconds killed into": []}
        started = time.time()
        try:
            reference = make_reference(args, config, workdir)
            stats["uninterrupted run seconds"] = round(reference["seconds"], 2)
            while stats["kills"] < args.kills:
                chain(args, name, config, reference, workdir, rng, stats)
        except Failure as failure:
            print(f"kill test ({name}, seed {args.seed}) FAILED: {failure}", file=sys.stderr)
            print(f"left for inspection: {workdir}", file=sys.stderr)
            return 1
        times = stats.pop("seconds killed into")
        stats["kill moments (s after start)"] = [min(times), round(sum(times) / len(times), 3), max(times)]
        stats["seconds"] = round(time.time() - started, 1)
        summary[name] = stats
        shutil.rmtree(workdir)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
