#!/usr/bin/env python3
"""End-to-end check of BatchNormalization CNNs (issue 13): a small CIFAR-style CNN,
[Conv2D(no bias) -> BatchNormalization -> ReLU] x 2, MaxPooling2D, [Conv2D -> BN -> ReLU],
Flatten, Dense(softmax), built by real tf-keras and by Keras 3 (TensorFlow backend), on 16x16x3
random images with 10 classes.

For each Keras:
- `relapse predict` of the untrained file within 1e-4 max abs of Keras's `predict`;
- one epoch of `relapse train --data D --epochs 1 --batch-size 32 --no-shuffle --checkpoints DIR`
  within 1e-5 relative of Keras's epoch loss and 1e-4 relative L2 of every weight tensor
  (moving statistics included) of Keras's own `fit` on the same data and order;
- resume: 2 epochs in one run, and 1 epoch then `relapse resume epoch-0001.h5 --epochs 1
  --checkpoints <same folder>`, give bit-identical weights and optimizer state.

Keras runs TensorFlow's reference kernels (TF_ENABLE_ONEDNN_OPTS=0): with oneDNN's fused
batch norm (TensorFlow's default on x86) tf-keras's own `fit` moves the betas 2.5e-3 (relative
L2, after one epoch) away from the same `fit` without it, while its single-layer outputs and
gradients agree with Relapse to 1e-5 either way (fixtures/ref-layers.h5).

usage: tools/bn_cnn_parity.py [--relapse PATH]
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
import h5py
import numpy as np
import tf_keras
import keras

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def build(K):
    L = K.layers
    inp = K.Input(shape=(16, 16, 3))
    x = inp
    for filters in (8, 8):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(16, 3, use_bias=False)(x)
    x = L.BatchNormalization(momentum=0.9)(x)
    x = L.Activation("relu")(x)
    x = L.Flatten()(x)
    out = L.Dense(10, activation="softmax")(x)
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
    x = rng.uniform(0, 1, size=(128, 16, 16, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=128)]
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
            check(worst <= 1e-4, f"{tag}: relapse predict within 1e-4 of Keras", f"max abs {worst:.3g}")

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
            check(worst <= 1e-4, f"{tag}: every weight tensor (moving statistics included) within 1e-4 relative L2",
                  f"worst {worst_name}: {worst:.3g}")

            # resume bit for bit
            two = os.path.join(tmp, f"{tag[:2]}-run2")
            subprocess.run([args.relapse, "train", start, "--data", data, "--epochs", "2", "--batch-size", "32",
                            "--no-shuffle", "--checkpoints", two], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([args.relapse, "resume", os.path.join(run, "epoch-0001.h5"), "--epochs", "1",
                            "--checkpoints", run], check=True, stdout=subprocess.DEVNULL)
            a, b = all_arrays(os.path.join(two, "epoch-0002.h5")), all_arrays(os.path.join(run, "epoch-0002.h5"))
            same = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
            moving = [k for k in a if "moving_variance" in k]
            check(same and len(moving) == 3, f"{tag}: 2 epochs == 1 epoch + resume 1, bit for bit ({len(a)} arrays)",
                  "" if same else "differs")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
