#!/usr/bin/env python3
"""Self-test of tools/keras_check.py, which cannot wait for Relapse: pairs each
model fixture with a copy rewritten by h5py (must pass), then with copies that
are altered in one place each (must fail).

usage: .venv/bin/python tools/test_keras_check.py
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(REPO, "fixtures")
CHECK = os.path.join(REPO, "tools", "keras_check.py")

MODELS = ["broken-lines-start.h5", "tfk-adam-trained.h5", "tfk-adam-amsgrad-trained.h5",
          "tfk-sgd-momentum-trained.h5", "tfk-rmsprop-trained.h5",
          "tfk-sequential-channels-last.h5", "tfk-weights-only.h5", "tfk-many-layers.h5",
          "keras3-adam-trained.h5", "keras3-sequential.h5", "keras22-adam.h5",
          "keras-resume-epoch2.h5"]


def h5_copy(src, dst):
    """Rewrite every group, dataset and attribute with h5py (same types)."""
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        for k, v in s.attrs.items():
            d.attrs.create(k, v, dtype=s.attrs.get_id(k).dtype)
        for k in s:
            s.copy(s[k], d, name=k)


def run(args):
    r = subprocess.run([sys.executable, CHECK, *args], capture_output=True, text=True)
    return r.returncode, r.stdout


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        pairs = []
        for name in MODELS:
            dst = os.path.join(tmp, name)
            h5_copy(os.path.join(FIX, name), dst)
            pairs.append(f"{os.path.join(FIX, name)} {dst}\n")
        listing = os.path.join(tmp, "pairs.txt")
        with open(listing, "w") as fh:
            fh.write("# fixture, h5py copy\n" + "".join(pairs))
        code, out = run(["--pairs-from", listing])
        print(out)
        if code != 0 or not out.strip().splitlines()[-1].endswith(" 0 failed"):
            failures.append("identical copies did not all pass")

        # Each alteration must make the checker fail.
        src = os.path.join(FIX, "tfk-adam-trained.h5")

        def altered(label, edit):
            dst = os.path.join(tmp, f"altered-{label}.h5")
            h5_copy(src, dst)
            with h5py.File(dst, "a") as f:
                edit(f)
            code, out = run([src, dst])
            fails = [l for l in out.splitlines() if l.startswith("FAIL")]
            print(f"{label}: exit {code}; " + (fails[0] if fails else "no FAIL line"))
            print("   " + out.strip().splitlines()[-1])
            if code == 0 or not fails:
                failures.append(f"alteration '{label}' was not detected")

        def flip_kernel_bit(f):
            d = f["model_weights/dense/dense/kernel:0"]
            a = d[()]
            a.view(np.uint32)[0, 0] ^= 1  # one ulp
            d[...] = a

        def bump_iterations(f):
            f["optimizer_weights/iteration:0"][()] = 5

        def swap_m_v(f):
            g = f["optimizer_weights"]
            m, v = g["Adam/m/dense/bias:0"][()], g["Adam/v/dense/bias:0"][()]
            g["Adam/m/dense/bias:0"][...] = v
            g["Adam/v/dense/bias:0"][...] = m

        def change_config(f):
            f.attrs["model_config"] = f.attrs["model_config"].replace('"units": 2', '"units": 2 ')

        def edit_units(f):
            f.attrs["model_config"] = f.attrs["model_config"].replace('"strides": [2, 2]',
                                                                      '"strides": [1, 1]')

        altered("weight-one-ulp", flip_kernel_bit)
        altered("iterations", bump_iterations)
        altered("adam-m-v-swapped", swap_m_v)
        altered("config-pooling-strides", edit_units)
        # Whitespace only: JSON still parses equal, so this one must pass.
        dst = os.path.join(tmp, "whitespace.h5")
        h5_copy(src, dst)
        with h5py.File(dst, "a") as f:
            change_config(f)
        code, out = run([src, dst])
        print("json-whitespace-only:", out.strip().splitlines()[-1])
        if code != 0:
            failures.append("whitespace-only config change was reported")
    print("SELF-TEST " + ("FAILED: " + "; ".join(failures) if failures else "OK"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
