#!/usr/bin/env python3
"""Adversarial suite for Relapse's two error contracts (issue 16; docs/RELIABILITY.md).

Crafts hostile files with h5py (absurd sizes, claims a file does not hold, duplicated names,
out-of-range counters, unrelated models, odd dtypes, a 50,000-layer model listed in reverse,
a rank-2 output) and runs `relapse` on each. Every refusal must exit 2 with exactly one stderr
line `relapse: error: FILE: ...` naming the file and holding the expected phrase (a usage error:
64 and ArgumentParser's `Error: ` line), leave no output and no temporary file, and touch
nothing outside its output: every file in the case's folder and a sentinel folder is compared
(size, mode, mtime, bytes) before and after. Accepted cases must exit 0.

    .venv/bin/python tools/hostile_inputs.py --relapse .build/debug/relapse

Runs in about half a minute on a debug build. Exit status 0 when every case passes.
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures")
MODEL = os.path.join(FIXTURES, "tfk-adam-trained.h5")
START = os.path.join(FIXTURES, "train-start-adam.h5")
DATA = os.path.join(FIXTURES, "train-data.h5")


def snapshot(*folders):
    """Every file under the folders: size, mode, mtime and a digest of its bytes."""
    state = {}
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                path = os.path.join(dirpath, name)
                info = os.lstat(path)
                digest = None
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as f:
                        digest = hashlib.sha256(f.read()).hexdigest()
                state[path] = (info.st_size, info.st_mode, info.st_mtime_ns, digest)
    return state


def edit_config(out, change, source=MODEL):
    shutil.copy(source, out)
    with h5py.File(out, "r+") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        change(config)
        f.attrs["model_config"] = json.dumps(config)
    return out


def layer(config, name):
    return next(l for l in config["config"]["layers"] if l["name"] == name)


def set_config(name, **values):
    return lambda c: layer(c, name)["config"].update(values)


def to_reshape(target):
    def change(c):
        l = layer(c, "flatten")
        l["class_name"] = "Reshape"
        l["config"] = {"name": "flatten", "trainable": True, "dtype": "float32", "target_shape": target}
    return change


class Suite:
    def __init__(self, relapse, keep):
        self.relapse = relapse
        self.keep = keep
        self.failures = []
        self.count = 0
        self.base = tempfile.mkdtemp(prefix="relapse-hostile-")
        self.sentinel = os.path.join(self.base, "sentinel")
        os.makedirs(self.sentinel)
        with open(os.path.join(self.sentinel, "secret.txt"), "w") as f:
            f.write("must stay as it is\n")

    def folder(self, name):
        path = os.path.join(self.base, name.replace(" ", "-").replace("/", "_"))
        os.makedirs(path, exist_ok=True)
        return path

    def run(self, name, folder, argv, status, phrase=None, names=None, outputs=()):
        """Runs relapse ARGV in FOLDER and checks the contract."""
        self.count += 1
        before = snapshot(folder, self.sentinel, FIXTURES)
        result = subprocess.run([self.relapse] + argv, cwd=folder, capture_output=True, text=True, timeout=300)
        after = snapshot(folder, self.sentinel, FIXTURES)
        problems = []
        if result.returncode != status:
            problems.append(f"exit {result.returncode}, wanted {status}")
        lines = result.stderr.splitlines()
        if status == 2:
            if len(lines) != 1:
                problems.append(f"{len(lines)} stderr lines")
            if names is not None and not result.stderr.startswith(f"relapse: error: {names}: "):
                problems.append(f"does not name {names}")
        if status == 64 and (not result.stderr.startswith("Error: ") or "Missing value" in result.stderr):
            problems.append("not ArgumentParser's usage line")
        if phrase and phrase not in (result.stderr if status != 0 else result.stdout + result.stderr):
            problems.append(f"no '{phrase}'")
        if "Fatal error" in result.stderr or "Backtrace" in result.stderr or "Stack dump" in result.stderr:
            problems.append("crashed")
        for output in outputs:
            if os.path.exists(output):
                problems.append(f"left {output}")
        leftovers = [p for p in after if ".relapse-tmp." in p or ".tmp-" in p]
        if leftovers:
            problems.append(f"temporary files {leftovers}")
        if status != 0:
            touched = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
            if touched:
                problems.append(f"touched {touched}")
        else:
            changed = sorted(p for p in before if before[p] != after.get(p))
            if changed:
                problems.append(f"changed existing files {changed}")
        verdict = "ok  " if not problems else "FAIL"
        first = lines[0] if lines else (result.stdout.splitlines() or [""])[-1]
        print(f"{verdict} {name}: exit {result.returncode}: {first[:160]}")
        if problems:
            self.failures.append((name, problems, result.stderr[-2000:]))
            for p in problems:
                print(f"     {p}")

    def refuse_model(self, name, path, phrase):
        folder = os.path.dirname(path)
        self.run(name + " (inspect)", folder, ["inspect", path], 2, phrase, names=path)
        out = os.path.join(folder, "out.h5")
        self.run(name + " (resave)", folder, ["resave", path, out], 2, phrase, names=path, outputs=[out])
        run = os.path.join(folder, "run")
        self.run(name + " (train)", folder, ["train", path, "--data", DATA, "--epochs", "1", "--checkpoints", run], 2, phrase,
                 names=path, outputs=[run])

    def refuse_data(self, name, path, phrase, model=START):
        folder = os.path.dirname(path)
        run = os.path.join(folder, "run")
        self.run(name, folder, ["train", model, "--data", path, "--epochs", "1", "--checkpoints", run], 2, phrase,
                 names=path, outputs=[run])


def sizes(s):
    cases = [
        ("Conv2D with 10^9 filters", set_config("conv2d", filters=10**9), "needs 268 GiB, more than the memory budget"),
        ("Conv2D with 2^62 filters", set_config("conv2d", filters=2**62), "its size overflows a 64-bit count"),
        ("Dense with 2^40 units", set_config("dense", units=2**40), "its weight 'kernel' of shape (36, 1099511627776)"),
        ("a 100000 x 100000 input", set_config("input_1", batch_input_shape=[None, 1, 100000, 100000]), "needs 74.5 GiB"),
        ("a 2^31 x 2^31 input", set_config("input_1", batch_input_shape=[None, 1, 2**31, 2**31]), "overflows"),
        ("a Reshape to 2^40 x 2^40 x -1", to_reshape([2**40, 2**40, -1]), "too large: its size overflows"),
        ("a kernel of 2^62 x 2^62", set_config("conv2d", kernel_size=[2**62, 2**62]), "does not fit the input"),
        ("strides of 2^62", set_config("conv2d", strides=[2**62, 2**62]), "does not fit the input"),
        ("a pool of 2^62 x 2^62", set_config("max_pooling2d", pool_size=[2**62, 2**62]), "does not fit the input"),
        ("negative filters", set_config("conv2d", filters=-4), "filters"),
    ]
    for name, change, phrase in cases:
        folder = s.folder(name)
        s.refuse_model(name, edit_config(os.path.join(folder, "model.h5"), change), phrase)

    # A .keras archive whose config.json claims 2^40 units.
    folder = s.folder("keras archive with 2^40 units")
    path = os.path.join(folder, "model.keras")
    with zipfile.ZipFile(os.path.join(FIXTURES, "keras3-adam.keras")) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for l in config["config"]["layers"]:
                    if l["class_name"] == "Dense":
                        l["config"]["units"] = 2**40
                data = json.dumps(config).encode()
            target.writestr(item, data)
    s.run("a .keras archive with a Dense of 2^40 units", folder, ["inspect", path], 2, "1099511627776", names=path)

    # Data files that claim more than they hold; a legitimately compressed one still trains.
    folder = s.folder("data claims")
    path = os.path.join(folder, "claims.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", shape=(2**24, 1, 8, 8), dtype="f4", chunks=(1, 1, 8, 8))
        f.create_dataset("y", shape=(2**24, 2), dtype="f4", chunks=(1, 2))
    s.refuse_data(f"a {os.path.getsize(path)}-byte data file claiming 2^24 samples", path,
                  "its shape claims 4294967296 bytes but the file stores only 0 for it")
    path = os.path.join(folder, "gzip.h5")
    with h5py.File(DATA) as source, h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros_like(source["x"][()]), chunks=True, compression="gzip", compression_opts=9)
        f.create_dataset("y", data=source["y"][()], chunks=True, compression="gzip")
    s.run("gzip-compressed zeros (accepted)", folder, ["train", START, "--data", path, "--epochs", "1", "--checkpoints",
                                                       os.path.join(folder, "gzip-run")], 0)
    path = os.path.join(folder, "float16.h5")
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros((4, 1, 8, 8), "f2")
        f["y"] = np.zeros((4, 2), "f4")
    s.refuse_data("float16 data", path, "/x holds float16 values, which Relapse does not read")
    path = os.path.join(folder, "strings.h5")
    with h5py.File(path, "w") as f:
        f["x"] = np.array([b"a", b"b"])
        f["y"] = np.zeros((2, 2), "f4")
    s.refuse_data("strings as data", path, "/x holds strings")

    # A variable-length string whose 4-byte length claims 4 GB: libhdf5 1.10 would allocate and
    # zero-fill the claim before reading (7.8 GB of RSS).
    folder = s.folder("vlen claim")
    path = os.path.join(folder, "model.h5")
    data = bytearray(open(MODEL, "rb").read())
    heap = data.find(b"GCOL\x01\x00\x00\x00")
    address = struct.pack("<Q", heap)
    at = next(i for i in range(4, len(data) - 12) if data[i:i + 8] == address and data[i + 8:i + 12] != b"\0\0\0\0")
    data[at - 4:at] = struct.pack("<I", 0xF0000000)
    open(path, "wb").write(data)
    s.refuse_model("a variable-length string claiming 4 GB", path, "claims 4026531840 elements of a heap object")


def counters_and_names(s):
    folder = s.folder("counters")
    for name, value in [("2^63 - 1", 2**63 - 1), ("-1", -1)]:
        path = os.path.join(folder, f"iterations{value}.h5")
        shutil.copy(MODEL, path)
        with h5py.File(path, "r+") as f:
            f["optimizer_weights/iteration:0"][()] = value
        s.run(f"optimizer iteration count {name}", folder,
              ["train", path, "--data", DATA, "--epochs", "1", "--checkpoints", os.path.join(folder, "run")], 2,
              f"its iteration count {value} is out of range", names=path, outputs=[os.path.join(folder, "run")])
    folder = s.folder("duplicates")
    path = os.path.join(folder, "layers.h5")
    shutil.copy(MODEL, path)
    with h5py.File(path, "r+") as f:
        names = list(f["model_weights"].attrs["layer_names"])
        f["model_weights"].attrs["layer_names"] = names + [names[1]]
    s.refuse_model("a layer listed twice in layer_names", path, "is listed twice in model_weights' layer_names")
    path = os.path.join(folder, "weights.h5")
    shutil.copy(MODEL, path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights/dense"]
        names = list(group.attrs["weight_names"])
        group.attrs["weight_names"] = names + [names[0]]
    s.refuse_model("a weight listed twice in weight_names", path, "is listed twice in the weight_names")


def deep_model(s):
    folder = s.folder("deep")
    path = os.path.join(folder, "deep.h5")
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "in"},
               "name": "in", "inbound_nodes": []}]
    previous = "in"
    for i in range(50000):
        layers.append({"class_name": "Activation", "config": {"name": f"a{i}", "trainable": True, "dtype": "float32",
                                                              "activation": "linear"},
                       "name": f"a{i}", "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = f"a{i}"
    config = {"class_name": "Functional", "config": {"name": "deep", "trainable": True,
                                                     "layers": [layers[0]] + layers[1:][::-1],
                                                     "input_layers": [["in", 0, 0]], "output_layers": [[previous, 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.create_group("model_weights").attrs["layer_names"] = []
    s.run("a 50,000-layer model listed in reverse (accepted)", folder, ["inspect", path], 0)


def rank_two_output(s):
    """Dense after Reshape((1, 36)): Relapse's first-epoch loss must equal tf-keras's fit."""
    folder = s.folder("rank two")
    path = edit_config(os.path.join(folder, "model.h5"), to_reshape([1, 36]))
    with h5py.File(DATA) as f:
        x, y = f["x"][()][:32], f["y"][()][:32]
    shaped, flat = os.path.join(folder, "shaped.h5"), os.path.join(folder, "flat.h5")
    with h5py.File(shaped, "w") as f:
        f["x"], f["y"] = x, y.reshape(32, 1, 2)
    with h5py.File(flat, "w") as f:
        f["x"], f["y"] = x, y
    s.refuse_data("labels (n, 2) for an output (n, 1, 2)", flat, "y has shape (32, 2) but the model's output needs (32, 1, 2)",
                  model=path)
    run = os.path.join(folder, "run-shaped")
    s.run("a rank-2 output with labels of its shape (accepted)", folder,
          ["train", path, "--data", shaped, "--epochs", "1", "--batch-size", "32", "--no-shuffle", "--checkpoints", run], 0)
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tf_keras
    except ImportError:
        print("     (tf_keras not installed: the loss is not compared)")
        return
    model = tf_keras.models.load_model(path)
    keras_loss = model.evaluate(x, y.reshape(32, 1, 2), batch_size=32, verbose=0)
    keras_loss = keras_loss[0] if isinstance(keras_loss, list) else keras_loss
    with open(os.path.join(run, "history.csv")) as f:
        header, row = f.read().splitlines()[:2]
    relapse_loss = float(dict(zip(header.split(","), row.split(",")))["loss"])
    s.count += 1
    if abs(relapse_loss - keras_loss) > 1e-6 * max(1, abs(keras_loss)):
        s.failures.append(("rank-2 loss", [f"relapse {relapse_loss} vs tf-keras {keras_loss}"], ""))
        print(f"FAIL rank-2 output loss: relapse {relapse_loss}, tf-keras {keras_loss}")
    else:
        print(f"ok   rank-2 output loss: relapse {relapse_loss:.8f}, tf-keras evaluate {keras_loss:.8f}")


def misleading_answers(s):
    folder = s.folder("unrelated")
    other = os.path.join(FIXTURES, "tfk-sequential-channels-last.h5")
    s.run("diff of two unrelated models", folder, ["diff", MODEL, other], 2, "is not a checkpoint of the same model", names=other)
    s.run("diff of one model by two Keras versions (accepted)", folder,
          ["diff", os.path.join(FIXTURES, "keras22-adam.h5"), MODEL], 0)
    run = os.path.join(folder, "run")
    s.run("a two-epoch run", folder, ["train", START, "--data", DATA, "--epochs", "2", "--checkpoints", run], 0)
    shutil.copy(other, os.path.join(run, "epoch-0003.h5"))
    shutil.copy(os.path.join(run, "epoch-0002.h5"), os.path.join(run, "epoch-0004-nan-batch-0002.h5"))
    s.run("scan with a foreign model as epoch 3", folder, ["scan", run], 0, "is a checkpoint of another model")
    s.run("scan with a stopped state", folder, ["scan", run], 0, f"Last healthy:     epoch 2, {run}/epoch-0002.h5")


def flags_and_messages(s):
    folder = s.folder("flags")
    run = os.path.join(folder, "run")
    usage = [
        ["train", START, "--data", DATA, "--epochs", "-1"],
        ["train", START, "--data", DATA, "--epochs", str(2**40)],
        ["train", START, "--data", DATA, "--epochs", str(2**63 - 1)],
        ["resume", START, "--data", DATA, "--initial-epoch", str(2**63 - 1)],
        ["resume", START, "--data", DATA, "--initial-epoch", "-3"],
        ["train", START, "--data", DATA, "--batch-size", "0"],
        ["predict", START, "--data", DATA, "--batch-size", "0", "--out", os.path.join(folder, "p.h5")],
        ["train", START, "--data", DATA, "--learning-rate", "inf"],
        ["train", START, "--data", DATA, "--beta1", "nan"],
        ["train", START, "--data", DATA, "--optimizer", "SGD", "--momentum", "5"],
        ["train", START, "--data", DATA, "--max-memory", "-5"],
        ["train", START, "--synthetic", "-4"],
    ]
    for argv in usage:
        s.run(" ".join(a for a in argv if a not in (START, DATA)), folder, argv + ["--checkpoints", run], 64, outputs=[run])
    s.run("--synthetic 2^40", folder, ["train", START, "--synthetic", str(2**40), "--checkpoints", run], 2,
          "needs 4104 TiB", names=f"--synthetic {2**40}", outputs=[run])
    s.run("--batch-size 2^63-1 (accepted: one batch)", folder,
          ["train", START, "--data", DATA, "--epochs", "1", "--batch-size", str(2**63 - 1), "--checkpoints", run], 0)
    s.run("--max-memory 200K", folder, ["train", START, "--data", DATA, "--epochs", "1", "--batch-size", "256",
                                        "--max-memory", "200K", "--checkpoints", os.path.join(folder, "run2")], 2,
          "more than the memory budget of 200 KiB", names=START, outputs=[os.path.join(folder, "run2")])
    loop = os.path.join(folder, "loop.h5")
    os.symlink(os.path.join(folder, "loop2.h5"), loop)
    os.symlink(loop, os.path.join(folder, "loop2.h5"))
    s.run("a symbolic link loop", folder, ["inspect", loop], 2, "Too many levels of symbolic links", names=loop)
    fifo = os.path.join(folder, "fifo.h5")
    os.mkfifo(fifo)
    s.run("a FIFO as the model", folder, ["inspect", fifo], 2, "is a FIFO", names=fifo)
    json_model = os.path.join(FIXTURES, "broken-lines-model.json")
    s.run("a .json model without an optimizer", folder, ["train", json_model, "--synthetic", "8", "--checkpoints",
                                                         os.path.join(folder, "run3")], 2,
          "has no training_config naming an optimizer; give --optimizer", names=json_model, outputs=[os.path.join(folder, "run3")])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build/debug/relapse"))
    parser.add_argument("--keep", action="store_true", help="keep the crafted files")
    args = parser.parse_args()
    suite = Suite(os.path.abspath(args.relapse), args.keep)
    try:
        for part in (sizes, counters_and_names, deep_model, rank_two_output, misleading_answers, flags_and_messages):
            part(suite)
    finally:
        if args.keep:
            print(f"crafted files in {suite.base}")
        else:
            shutil.rmtree(suite.base, ignore_errors=True)
    print(f"{suite.count} cases, {len(suite.failures)} failed")
    for name, problems, stderr in suite.failures:
        print(f"FAIL {name}: {'; '.join(problems)}\n{stderr}")
    return 1 if suite.failures else 0


if __name__ == "__main__":
    sys.exit(main())
