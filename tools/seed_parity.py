#!/usr/bin/env python3
"""One epoch of the seed model in real tf-keras and in Relapse, from the same weights on the
same data (batch 64, no shuffling, Adam, binary_crossentropy): every weight tensor must end
within 1e-4 relative L2 of Keras's, and the epoch loss within 1e-5 relative.

usage: tools/seed_parity.py [--relapse PATH] [--samples N]
Prints one line per check and "N passed, M failed"; exit status 1 on any failure.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "fixtures", "broken-lines-start.h5")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "release", "relapse"))
    parser.add_argument("--samples", type=int, default=512)
    args = parser.parse_args()
    import tf_keras as keras

    passed = failed = 0

    def check(ok, label, detail=""):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(("PASS " if ok else "FAIL ") + label + ("" if ok else f": {detail}"))

    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data.h5")
        subprocess.run([args.relapse, "make-data", "--synthetic", str(args.samples), "--data-seed", "3",
                        "--out", data], check=True)
        with h5py.File(data, "r") as f:
            x, y = f["x"][:], f["y"][:]

        model = keras.models.load_model(SEED)
        history = model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        keras_loss = history.history["loss"][0]

        run = os.path.join(work, "run")
        subprocess.run([args.relapse, "train", SEED, "--data", data, "--epochs", "1", "--batch-size", "64",
                        "--no-shuffle", "--checkpoints", run], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "history.csv")) as f:
            relapse_loss = float(next(csv.DictReader(f))["loss"])
        check(abs(relapse_loss - keras_loss) <= 1e-5 * abs(keras_loss),
              f"epoch loss Relapse {relapse_loss:.9g} vs Keras {keras_loss:.9g}",
              f"relative difference {abs(relapse_loss - keras_loss) / abs(keras_loss):.3g}")

        ours = keras.models.load_model(os.path.join(run, "epoch-0001.h5"))
        for theirs_layer, our_layer in zip(model.layers, ours.layers):
            for w_k, w_r in zip(theirs_layer.weights, our_layer.weights):
                a, b = np.asarray(w_r, np.float64), np.asarray(w_k, np.float64)
                rel = np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12)
                check(rel <= 1e-4, f"{w_k.name} relative L2 {rel:.3g}", "above 1e-4")
        check(int(ours.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()),
              "optimizer iterations equal")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
