#!/usr/bin/env python3
"""Seeded mutation fuzzing of Relapse's Keras reader.

Each input is a Keras fixture with one to three mutations (bit flips, byte ranges overwritten,
interesting integers at aligned offsets, truncation, edits inside the JSON attribute strings,
spliced blocks). Each input runs in its own `relapse` process (`inspect`, which goes through
KerasModel.load, Network(model:) and ModelReport; every fifth input `resave`), so a crash in
libhdf5 kills one child and not the loop. An input passes when the command exits 0, or exits 2
with exactly one stderr line `relapse: error: FILE: ...` and leaves no output file. Anything
else (a signal, another status, a stack trace, several lines, a leftover output, a hang) is
saved under --out with its stderr and, for crashes, the backtrace Swift's runtime printed.

    tools/fuzz.py --count 5000 --seed 1              # uses .build-rel/debug/relapse
    tools/fuzz.py --relapse .build/release/relapse --count 20000 --jobs 2

Stdlib only; the same --seed gives the same inputs.
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FIXTURES = [
    "tfk-adam-trained.h5", "keras22-adam.h5", "keras3-adam-trained.h5", "tfk-weights-only.h5",
    "tfk-sequential-channels-last.h5", "keras3-sequential.h5", "tfk-sgd-momentum-trained.h5",
    "tfk-rmsprop-trained.h5", "train-start-adam.h5", "ref-predict-sequential.h5",
]
INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               0xFFFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF, 1 << 32, 1 << 40]


def json_regions(data):
    """Byte ranges of JSON text in the file (model_config, training_config, relapse state)."""
    regions = []
    for match in re.finditer(rb'\{"(class_name|loss|optimizer_config|format|module)"', data):
        start = match.start()
        depth = 0
        for end in range(start, min(len(data), start + 200000)):
            c = data[end]
            if c == 0x7B:
                depth += 1
            elif c == 0x7D:
                depth -= 1
                if depth == 0:
                    regions.append((start, end + 1))
                    break
    return regions


def mutate(data, rng):
    data = bytearray(data)
    kinds = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.choice(["bitflip", "bitflip", "bytes", "integer", "integer", "json", "json", "truncate",
                           "splice", "zero-range"])
        if not data:
            break
        if kind == "bitflip":
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif kind == "bytes":
            i = rng.randrange(len(data))
            n = rng.randint(1, 32)
            data[i:i + n] = bytes(rng.randrange(256) for _ in range(min(n, len(data) - i)))
        elif kind == "zero-range":
            i = rng.randrange(len(data))
            n = rng.choice([8, 64, 512, 4096])
            fill = rng.choice([0x00, 0xFF])
            data[i:i + n] = bytes([fill]) * min(n, len(data) - i)
        elif kind == "integer":
            width = rng.choice([2, 4, 8])
            i = rng.randrange(0, max(1, len(data) - width)) & ~(width - 1)
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            data[i:i + width] = value.to_bytes(width, "little")
        elif kind == "truncate":
            data = data[:rng.randrange(len(data))]
        elif kind == "splice":
            n = rng.randint(8, 256)
            src = rng.randrange(len(data))
            dst = rng.randrange(len(data))
            block = data[src:src + n]
            data[dst:dst + len(block)] = block
        elif kind == "json":
            regions = json_regions(bytes(data))
            if not regions:
                continue
            start, end = rng.choice(regions)
            text = bytes(data[start:end])
            edit = rng.choice(["digit", "quote", "brace", "classname", "number", "char"])
            if edit == "digit":
                digits = [m.start() for m in re.finditer(rb"[0-9]", text)]
                if digits:
                    j = rng.choice(digits)
                    text = text[:j] + bytes([rng.choice(b"0123456789-")]) + text[j + 1:]
            elif edit == "number":
                numbers = [m for m in re.finditer(rb"[0-9]+", text)]
                if numbers:
                    m = rng.choice(numbers)
                    text = text[:m.start()] + b"9" * (m.end() - m.start()) + text[m.end():]
            elif edit == "quote":
                quotes = [m.start() for m in re.finditer(rb'"', text)]
                if quotes:
                    j = rng.choice(quotes)
                    text = text[:j] + rng.choice([b"'", b" ", b"\\"]) + text[j + 1:]
            elif edit == "brace":
                braces = [m.start() for m in re.finditer(rb"[\[\]{}]", text)]
                if braces:
                    j = rng.choice(braces)
                    text = text[:j] + rng.choice([b"[", b"]", b"{", b"}", b" "]) + text[j + 1:]
            elif edit == "classname":
                names = [m for m in re.finditer(rb'"class_name": "([A-Za-z0-9]+)"', text)]
                if names:
                    m = rng.choice(names)
                    old = m.group(1)
                    new = rng.choice([b"Dense", b"Conv2D", b"Flatten", b"Reshape", b"Dropout", b"InputLayer",
                                      b"Activation", b"MaxPooling2D", b"Sequential", b"Functional"])
                    new = (new + b" " * len(old))[:len(old)] if len(new) > len(old) else new + b" " * (len(old) - len(new))
                    text = text[:m.start(1)] + new + text[m.end(1):]
            else:
                j = rng.randrange(len(text))
                text = text[:j] + bytes([rng.randrange(32, 127)]) + text[j + 1:]
            data[start:end] = text
        kinds.append(kind)
    return bytes(data), kinds


def run_one(args, index, fixture, blob, kinds, workdir):
    path = os.path.join(workdir, f"input-{index}.h5")
    with open(path, "wb") as f:
        f.write(blob)
    command = "resave" if index % 5 == 4 else "inspect"
    out = os.path.join(workdir, f"out-{index}.h5")
    argv = [args.relapse, command, path] + ([out] if command == "resave" else [])
    env = dict(os.environ, SWIFT_BACKTRACE="enable=yes,interactive=no,color=no")
    started = time.time()
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=args.timeout, env=env)
        status, stderr = proc.returncode, proc.stderr.decode("utf8", "replace")
    except subprocess.TimeoutExpired:
        status, stderr = "timeout", ""
    seconds = time.time() - started
    leftovers = [name for name in os.listdir(workdir) if name.startswith(f"out-{index}.") or name.startswith(f".out-{index}.")]
    problem = None
    if status == "timeout":
        problem = "hang"
    elif status < 0:
        problem = f"signal {-status}"
    elif status == 0:
        if leftovers and command == "inspect":
            problem = "leftover output"
    elif status == 2:
        lines = stderr.rstrip("\n").split("\n")
        if len(lines) != 1:
            problem = "multi-line error"
        elif not lines[0].startswith(f"relapse: error: {path}: "):
            problem = "error does not name the file"
        elif leftovers:
            problem = "leftover output after failure"
    else:
        problem = f"exit status {status}"
    result = {"index": index, "fixture": fixture, "mutations": kinds, "command": command, "status": str(status),
              "seconds": round(seconds, 3), "problem": problem, "first_line": stderr.split("\n")[0][:300]}
    if problem:
        keep = os.path.join(args.out, f"{problem.replace(' ', '-')}-{index}")
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, os.path.basename(fixture)))
        with open(os.path.join(keep, "stderr.txt"), "w") as f:
            f.write(stderr)
        with open(os.path.join(keep, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
        result["where"] = classify(stderr)
    for name in [path, out] + [os.path.join(workdir, n) for n in leftovers]:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    return result


def classify(stderr):
    """Where a crash happened, from the backtrace Swift's runtime prints."""
    frames = [line for line in stderr.split("\n") if re.match(r"\s*\d+ ", line) and " in " in line]
    for frame in frames:
        if "libhdf5" in frame:
            return "libhdf5"
        if "relapse" in frame and ("HDF5" in frame or "KerasFile" in frame or "Network" in frame
                                   or "Diagnostics" in frame or "Training" in frame):
            return "relapse"
    if "Fatal error" in stderr:
        return "relapse (Swift runtime trap)"
    return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build-rel/debug/relapse"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20)
    parser.add_argument("--out", default=os.path.join(ROOT, ".build-rel/fuzz-findings"))
    parser.add_argument("--fixtures", nargs="*", default=DEFAULT_FIXTURES)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    sources = [(name, open(os.path.join(ROOT, "fixtures", name), "rb").read()) for name in args.fixtures]
    workdir = tempfile.mkdtemp(prefix="relapse-fuzz-")
    counts = {"accepted": 0, "rejected cleanly": 0}
    problems = []
    started = time.time()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = []
            for index in range(args.count):
                fixture, original = sources[rng.randrange(len(sources))]
                blob, kinds = mutate(original, rng)
                futures.append(pool.submit(run_one, args, index, fixture, blob, kinds, workdir))
                if len(futures) >= 64:
                    for future in futures:
                        tally(future.result(), counts, problems)
                    futures = []
            for future in futures:
                tally(future.result(), counts, problems)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.time() - started
    print(json.dumps({"inputs": args.count, "seed": args.seed, "seconds": round(seconds, 1), **counts,
                      "problems": len(problems)}, indent=1))
    for problem in problems:
        print(json.dumps(problem))
    return 1 if problems else 0


def tally(result, counts, problems):
    if result["problem"]:
        problems.append(result)
    elif result["status"] == "0":
        counts["accepted"] += 1
    else:
        counts["rejected cleanly"] += 1


if __name__ == "__main__":
    sys.exit(main())
