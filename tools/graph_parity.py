#!/usr/bin/env python3
"""End-to-end check of functional graphs (issue 13): a model that is not a chain, built by real
tf-keras and by Keras 3 (TensorFlow backend) on 8x8x3 random images with 3 classes: a residual
Add, a squeeze-excite Multiply of (8, 8, 6) by a (1, 1, 6) gate (broadcast), Concatenate of two
branches, a Dense layer called twice (one set of weights), a nested Sequential block (with
BatchNormalization) called twice, Average, Maximum and Subtract, and a tensor read by several
layers.

For each Keras:
- `relapse predict` of the untrained file within 1e-5 max abs of Keras's `predict`;
- one epoch of `relapse train --data D --epochs 1 --batch-size 32 --no-shuffle --checkpoints DIR`
  within 1e-5 relative of Keras's epoch loss and 1e-4 relative L2 of every weight tensor of
  Keras's own `fit` on the same data and order;
- Keras loads Relapse's checkpoint and predicts within 1e-5 of Relapse's predict from it;
- resume: 2 epochs in one run, and 1 epoch then `relapse resume epoch-0001.h5 --epochs 1
  --checkpoints <same folder>`, give bit-identical weights and optimizer state.

usage: tools/graph_parity.py [--relapse PATH]
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import h5py
import numpy as np
import tf_keras
import keras

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def build(K):
    L = K.layers
    inp = K.Input(shape=(8, 8, 3))
    a = L.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inp)
    b = L.Conv2D(6, 3, padding="same", name="conv_b")(a)
    res = L.Add(name="residual")([a, b])
    g = L.GlobalAveragePooling2D(keepdims=True, name="squeeze")(res)
    g = L.Dense(6, activation="sigmoid", name="excite")(g)
    se = L.Multiply(name="scale")([res, g])
    left = L.MaxPooling2D(name="pool_se")(se)
    right = L.MaxPooling2D(name="pool_a")(a)
    cat = L.Concatenate(name="branches")([left, right])
    h = L.Dense(12, activation="tanh", name="hidden")(L.Flatten(name="flat")(cat))
    block = K.Sequential([K.Input(shape=(12,)), L.Dense(12, activation="tanh", name="block_dense"),
                          L.BatchNormalization(name="block_bn"), L.Dense(12, name="block_out")], name="block")
    shared = L.Dense(12, activation="tanh", name="shared")
    s1 = shared(block(h))
    s2 = shared(s1)
    avg = L.Average(name="avg")([s1, s2])
    mx = L.Maximum(name="max")([h, s2])
    sub = L.Subtract(name="sub")([avg, mx])
    out = L.Dense(3, activation="softmax", name="out")(L.Concatenate(name="head")([sub, s1, block(s2)]))
    model = K.Model(inp, out)
    model.compile(optimizer=K.optimizers.Adam(learning_rate=3e-3), loss="categorical_crossentropy")
    return model


def weights_of(path):
    out = {}
    with h5py.File(path) as f:
        g = f["model_weights"]
        for layer in g.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            names = g[layer].attrs["weight_names"]
            for i, n in enumerate(names):
                n = n.decode() if isinstance(n, bytes) else n
                out[(layer, i)] = g[layer][n][...]
    return out


def all_arrays(path):
    out = {}
    with h5py.File(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and (name.startswith("model_weights") or name.startswith("optimizer_weights")):
                out[name] = obj[...]
        f.visititems(visit)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "debug", "relapse"))
    args = parser.parse_args()
    failures = []

    def check(ok, label, detail=""):
        print(("ok   " if ok else "FAIL ") + label + (f" ({detail})" if detail else ""))
        if not ok:
            failures.append(label)

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(96, 8, 8, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=96)]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.h5")
        with h5py.File(data, "w") as f:
            f["x"], f["y"] = x, y
        for tag, K in [("tf-keras", tf_keras), ("Keras 3", keras)]:
            K.utils.set_random_seed(3)
            model = build(K)
            start = os.path.join(tmp, f"{tag[:2]}-start.h5")
            model.save(start)

            # predict
            pred_path = os.path.join(tmp, f"{tag[:2]}-pred.h5")
            subprocess.run([args.relapse, "predict", start, "--data", data, "--out", pred_path], check=True,
                           stdout=subprocess.DEVNULL)
            with h5py.File(pred_path) as f:
                ours = f["pred"][...]
            worst = float(np.abs(ours - model.predict(x, verbose=0)).max())
            check(worst <= 1e-5, f"{tag}: relapse predict within 1e-5 of Keras", f"max abs {worst:.3g}")

            # one epoch
            history = model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
            keras_after = os.path.join(tmp, f"{tag[:2]}-after.h5")
            model.save(keras_after)
            run = os.path.join(tmp, f"{tag[:2]}-run1")
            subprocess.run([args.relapse, "train", start, "--data", data, "--epochs", "1", "--batch-size", "32",
                            "--no-shuffle", "--checkpoints", run], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run, "history.csv")) as f:
                relapse_loss = float(next(csv.DictReader(f))["loss"])
            keras_loss = history.history["loss"][0]
            rel = abs(relapse_loss - keras_loss) / abs(keras_loss)
            check(rel <= 1e-5, f"{tag}: epoch loss Relapse {relapse_loss:.9g} vs Keras {keras_loss:.9g}", f"relative {rel:.3g}")
            ref, ours = weights_of(keras_after), weights_of(os.path.join(run, "epoch-0001.h5"))
            worst_name, worst = None, 0.0
            for key, value in ref.items():
                d = float(np.linalg.norm(ours[key].astype(np.float64) - value) / max(np.linalg.norm(value), 1e-12))
                if d > worst:
                    worst_name, worst = key, d
            check(worst <= 1e-4, f"{tag}: every weight tensor within 1e-4 relative L2",
                  f"worst {worst_name}: {worst:.3g}")

            # Keras opens Relapse's checkpoint and predicts what Relapse predicts from it
            ckpt = os.path.join(run, "epoch-0001.h5")
            loaded = K.models.load_model(ckpt)
            pred_ckpt = os.path.join(tmp, f"{tag[:2]}-pred-ckpt.h5")
            subprocess.run([args.relapse, "predict", ckpt, "--data", data, "--out", pred_ckpt], check=True,
                           stdout=subprocess.DEVNULL)
            with h5py.File(pred_ckpt) as f:
                ours = f["pred"][...]
            worst = float(np.abs(ours - loaded.predict(x, verbose=0)).max())
            check(worst <= 1e-5, f"{tag}: Keras loads Relapse's checkpoint and predicts as Relapse does", f"max abs {worst:.3g}")

            # resume bit for bit
            two = os.path.join(tmp, f"{tag[:2]}-run2")
            subprocess.run([args.relapse, "train", start, "--data", data, "--epochs", "2", "--batch-size", "32",
                            "--no-shuffle", "--checkpoints", two], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([args.relapse, "resume", os.path.join(run, "epoch-0001.h5"), "--epochs", "1",
                            "--checkpoints", run], check=True, stdout=subprocess.DEVNULL)
            a, b = all_arrays(os.path.join(two, "epoch-0002.h5")), all_arrays(os.path.join(run, "epoch-0002.h5"))
            same = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
            check(same, f"{tag}: 2 epochs == 1 epoch + resume 1, bit for bit ({len(a)} arrays)",
                  "" if same else "differs")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
