#!/usr/bin/env python3
"""The CNNs people actually have (issue 13): small versions (32x32 inputs, 10 classes,
weights=None) of the keras.applications families, built by real tf-keras and Keras 3
(TensorFlow backend), judged against Relapse.

For each family and Keras:
- `relapse inspect` reads the file: no refusal, except where the model holds code Relapse does
  not run (tf-keras's MobileNetV3 computes hard-swish with TFOpLambda layers: refused by name);
- `relapse predict` within 1e-4 max abs of Keras's `predict` on 8 images;
- `relapse resave`: Keras loads the file Relapse wrote, every weight bit for bit;
- for the families in TRAIN, one epoch of `relapse train --data D --epochs 1 --batch-size 8
  --no-shuffle --checkpoints DIR` on 16 images within 1e-5 relative of Keras's epoch loss, and
  every weight tensor within 1e-4 relative L2 of Keras's own `fit` on the same data and order.
  Where max pooling meets a near-tie float32 rounding may pick the other input (DESIGN.md): a
  tensor may then differ by more in at most 2% of its output channels.

Training uses SGD with momentum: Adam's first steps move every weight by the learning rate
times the sign of its gradient, so a gradient that is zero in exact arithmetic (the bias or
beta feeding a BatchNormalization) steps along float32 rounding noise in Keras and in Relapse
alike, and the comparison would measure noise, not math (tools/bn_cnn_parity.py tests Adam on
a BatchNormalization CNN without such weights). Keras 3 cannot load its own legacy .h5 of
MobileNetV3 (its `x + 3.0` operations), so that resave check is skipped; Relapse reads it.

Keras runs TensorFlow's reference kernels (TF_ENABLE_ONEDNN_OPTS=0: with oneDNN's fused batch
norm tf-keras's own fit drifts 2.5e-3 from itself without it; see tools/bn_cnn_parity.py).
Models with active Dropout are predicted, not trained here: Relapse draws its own masks.

usage: tools/applications_check.py [--relapse PATH] [FAMILY ...]
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

FAMILIES = {
    "MobileNetV2": lambda A: A.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10, alpha=0.35),
    "ResNet50": lambda A: A.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10),
    "DenseNet121": lambda A: A.DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10),
    "EfficientNetB0": lambda A: A.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10),
    "Xception": lambda A: A.Xception(weights=None, input_shape=(71, 71, 3), classes=10),
    "NASNetMobile": lambda A: A.NASNetMobile(weights=None, input_shape=(32, 32, 3), classes=10),
    "MobileNetV3Small": lambda A: A.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=10, dropout_rate=0.0),
    "VGG16": lambda A: A.VGG16(weights=None, input_shape=(32, 32, 3), classes=10),
}
# Trained one epoch against Keras's fit (no active Dropout; small enough for CI's time).
TRAIN = {"MobileNetV2", "DenseNet121", "MobileNetV3Small", "NASNetMobile"}
# (Keras, family) -> the class a refusal must name.
REFUSED = {("tf-keras", "MobileNetV3Small"): "TFOpLambda"}


def weights_of(path):
    out = {}
    with h5py.File(path) as f:
        g = f["model_weights"]
        for layer in g.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            for i, n in enumerate(g[layer].attrs["weight_names"]):
                n = n.decode() if isinstance(n, bytes) else n
                out[(layer, i)] = g[layer][n][...]
    return out


def channel_differences(a, b, tolerance):
    """How many output channels (last axis) of a weight tensor differ by more than tolerance."""
    a = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(-1, 1)
    b = b.reshape(a.shape)
    norms = np.linalg.norm(a, axis=0)
    d = np.linalg.norm(a.astype(np.float64) - b, axis=0) / np.maximum(norms, 1e-12)
    return int((d > tolerance).sum()), a.shape[1]


def run(args, *command, expect=0):
    result = subprocess.run([args.relapse, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return result.returncode, result.stderr.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "debug", "relapse"))
    parser.add_argument("families", nargs="*")
    args = parser.parse_args()
    families = args.families or list(FAMILIES)
    failures = []

    def check(ok, label, detail=""):
        print(("ok   " if ok else "FAIL ") + label + (f" ({detail})" if detail else ""), flush=True)
        if not ok:
            failures.append(label)

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for tag, K in [("tf-keras", tf_keras), ("Keras 3", keras)]:
            for family in families:
                K.utils.set_random_seed(0)
                model = FAMILIES[family](K.applications)
                model.compile(optimizer=K.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="categorical_crossentropy")
                shape = model.input_shape[1:]
                x = rng.uniform(0, 1, size=(16,) + shape).astype(np.float32)
                y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=16)]
                base = os.path.join(tmp, f"{tag[:2]}-{family}")
                data = base + "-data.h5"
                with h5py.File(data, "w") as f:
                    f["x"], f["y"] = x, y
                start = base + "-start.h5"
                model.save(start)
                label = f"{tag} {family}"

                refused = REFUSED.get((tag, family))
                code, err = run(args, "predict", start, "--data", data, "--out", base + "-pred.h5")
                if refused:
                    check(code == 2 and refused in err and err.count("\n") == 0, f"{label}: refused by name ({refused})", err[:160])
                    continue
                check(code == 0, f"{label}: inspect/predict read it", err[:200])
                if code != 0:
                    continue
                with h5py.File(base + "-pred.h5") as f:
                    ours = f["pred"][...]
                worst = float(np.abs(ours - model.predict(x, verbose=0)).max())
                check(worst <= 1e-4, f"{label}: predict within 1e-4 of Keras", f"max abs {worst:.3g}")

                code, err = run(args, "resave", start, base + "-resaved.h5")
                try:
                    K.models.load_model(start, compile=False)
                except Exception as error:  # noqa: BLE001 - Keras's own file: nothing to compare with
                    print(f"skip {label}: Keras cannot load its own file ({str(error)[:80]}); Relapse reads it")
                else:
                    reloaded = K.models.load_model(base + "-resaved.h5", compile=False)
                    same = all(np.array_equal(a, b) for a, b in zip(reloaded.get_weights(), model.get_weights()))
                    check(code == 0 and same, f"{label}: Keras loads Relapse's resave, weights bit for bit", err[:160])

                if family not in TRAIN:
                    continue
                history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
                after = base + "-after.h5"
                model.save(after)
                run_dir = base + "-run"
                code, err = run(args, "train", start, "--data", data, "--epochs", "1", "--batch-size", "8",
                                "--no-shuffle", "--checkpoints", run_dir)
                check(code == 0, f"{label}: trains one epoch", err[:200])
                if code != 0:
                    continue
                with open(os.path.join(run_dir, "history.csv")) as f:
                    ours_loss = float(next(csv.DictReader(f))["loss"])
                keras_loss = history.history["loss"][0]
                rel = abs(ours_loss - keras_loss) / abs(keras_loss)
                check(rel <= 1e-5, f"{label}: epoch loss {ours_loss:.9g} vs Keras {keras_loss:.9g}", f"relative {rel:.3g}")
                ref, mine = weights_of(after), weights_of(os.path.join(run_dir, "epoch-0001.h5"))
                worst, worst_name, bad = 0.0, None, []
                for key, value in ref.items():
                    d = float(np.linalg.norm(mine[key].astype(np.float64) - value) / max(np.linalg.norm(value), 1e-12))
                    if d > worst:
                        worst, worst_name = d, key
                    if d > 1e-4:
                        n, of = channel_differences(value, mine[key], 1e-4)
                        if n > max(0.02 * of, 0):
                            bad.append(f"{key}: {d:.3g} ({n}/{of} channels)")
                check(not bad, f"{label}: every weight tensor within 1e-4 relative L2 (or <= 2% of channels)",
                      f"worst {worst_name}: {worst:.3g}" if not bad else "; ".join(bad[:3]))
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
