#!/usr/bin/env python3
"""Real Keras 3 and tf-keras judge Relapse on the new saving library's files (issue 14).

Makes, with Keras 3.15 (TensorFlow backend) and tf-keras 2.21, `.keras` and `.weights.h5`
files of the seed model and of every architecture Relapse computes (Conv2D channels_first
and channels_last, strides, same padding, MaxPooling2D, Flatten both ways, Reshape, Dropout,
Dense with activations, Activation), trained one epoch (optimizer state: Adam, AdamW with
amsgrad, SGD with momentum, RMSprop centered with momentum) or only compiled (no state),
then checks:

  inspect   `relapse inspect` reads every file (exit 0).
  predict   `relapse predict` within 1e-5 (max abs) of the same Keras's predict.
  resume    `relapse resume F` one epoch (no shuffle; models without Dropout) within 1e-4
            relative L2, per weight, of that Keras's own `load_model(F).fit` one epoch.
  load      Keras 3 (tf-keras for its own files) loads Relapse's `.keras` checkpoint: every
            weight, `iterations` and every optimizer variable equal to the archive's datasets,
            bit for bit.
  convert   a Keras 2.2-layout checkpoint (fixtures/keras22-adam.h5) and a tf-keras one,
            `relapse convert`ed to .keras, continue in Keras 3 (load_model + fit one epoch)
            to within 1e-4 of the same continuation in Relapse; the converted config has the
            layers, classes and config keys Keras 3 writes for the same architecture.

usage: tools/keras3_formats.py [--relapse PATH]
Prints one line per check and finally exactly "N passed, M failed"; exit 1 on any failure.
"""
import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")
passed = failed = 0


def check(ok, label, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(("PASS " if ok else "FAIL ") + label + ("" if ok else f": {detail}"), flush=True)


def run(relapse, *args):
    p = subprocess.run([relapse, *args], capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def rel_l2(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


# ---------------------------------------------------------------------------- models

def small_cnn(K, flatten_format=None):
    inp = K.Input(shape=(1, 8, 8))
    x = K.layers.Conv2D(4, (3, 3), activation="relu", data_format="channels_first")(inp)
    x = K.layers.MaxPooling2D(data_format="channels_first")(x)
    x = K.layers.Flatten(data_format=flatten_format)(x)
    x = K.layers.Dense(2)(x)
    return K.Model(inp, K.layers.Activation("softmax")(x))


def sequential_last(K):
    return K.Sequential([
        K.Input(shape=(8, 8, 1)),
        K.layers.Conv2D(4, (3, 3), padding="same", activation="relu"),
        K.layers.Conv2D(3, (3, 3), strides=2, padding="same"),
        K.layers.MaxPooling2D(pool_size=2, padding="same"),
        K.layers.Dropout(0.25),
        K.layers.Flatten(),
        K.layers.Dense(5, activation="tanh"),
        K.layers.Dense(2, activation="softmax"),
    ])


def seed_model(K):
    inp = K.Input(shape=(1, 32, 32))
    x = K.layers.Activation("relu")(inp)
    x = K.layers.Conv2D(64, (16, 16), data_format="channels_first")(x)
    x = K.layers.Conv2D(128, (16, 16), data_format="channels_first")(x)
    x = K.layers.MaxPooling2D(data_format="channels_first")(x)
    x = K.layers.Reshape((128,))(x)
    x = K.layers.Dense(2)(x)
    return K.Model(inp, K.layers.Activation("softmax")(x))


def arrays_in_keras(path):
    """Datasets of the archive's model.weights.h5 by path."""
    with zipfile.ZipFile(path) as z:
        f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        out = {}
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "debug", "relapse"))
    args = parser.parse_args()
    relapse = args.relapse
    import keras
    import tf_keras

    work = tempfile.mkdtemp(prefix="relapse-k3-")
    w = lambda name: os.path.join(work, name)  # noqa: E731

    with h5py.File(os.path.join(FIX, "train-data.h5"), "r") as f:
        x8, y8 = f["x"][:128].astype(np.float32), f["y"][:128].astype(np.float32)
    x8l = np.ascontiguousarray(x8.transpose(0, 2, 3, 1))
    for name, x in (("data8.h5", x8), ("data8l.h5", x8l)):
        with h5py.File(w(name), "w") as f:
            f["x"], f["y"] = x, y8
    code, out = run(relapse, "make-data", "--synthetic", "64", "--out", w("seed.h5"))
    check(code == 0, "make-data seed.h5", out)
    with h5py.File(w("seed.h5"), "r") as f:
        xs, ys = f["x"][()].astype(np.float32), f["y"][()].astype(np.float32)

    # (name, Keras module, builder, optimizer, data, can resume exactly)
    cases = [
        ("k3-cnn-adam", keras, small_cnn, lambda K: K.optimizers.Adam(), "data8.h5", True),
        ("k3-cnn-adamw-amsgrad", keras, small_cnn, lambda K: K.optimizers.AdamW(amsgrad=True), "data8.h5", True),
        ("k3-cnn-sgd", keras, lambda K: small_cnn(K, "channels_first"), lambda K: K.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "data8.h5", True),
        ("k3-cnn-rmsprop", keras, small_cnn, lambda K: K.optimizers.RMSprop(momentum=0.5, centered=True), "data8.h5", True),
        ("k3-seq", keras, sequential_last, lambda K: K.optimizers.Adam(), "data8l.h5", False),
        ("k3-seed", keras, seed_model, lambda K: K.optimizers.Adam(), "seed.h5", True),
        ("tfk-cnn-adam", tf_keras, small_cnn, lambda K: K.optimizers.Adam(), "data8.h5", True),
        ("tfk-seq", tf_keras, sequential_last, lambda K: K.optimizers.Adam(), "data8l.h5", False),
    ]
    data = {"data8.h5": (x8, y8), "data8l.h5": (x8l, y8), "seed.h5": (xs, ys)}
    made = []
    for name, K, build, opt, dataname, exact in cases:
        (keras.utils if K is keras else tf_keras.utils).set_random_seed(3)
        x, y = data[dataname]
        model = build(K)
        model.compile(optimizer=opt(K), loss="binary_crossentropy", metrics=["accuracy"])
        model.save(w(name + "-untrained.keras"))
        model.save_weights(w(name + "-untrained.weights.h5"))
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.save(w(name + ".keras"))
        model.save_weights(w(name + ".weights.h5"))
        made.append((name, K, dataname, exact))

    # inspect and predict
    for name, K, dataname, exact in made:
        for suffix in ("-untrained.keras", "-untrained.weights.h5", ".keras", ".weights.h5"):
            code, out = run(relapse, "inspect", w(name + suffix))
            check(code == 0 and "Optimizer state" in out, f"inspect {name}{suffix}", out[-300:])
        x, _ = data[dataname]
        reference = K.models.load_model(w(name + ".keras")).predict(x[:16], verbose=0)
        with h5py.File(w("px.h5"), "w") as f:
            f["x"] = x[:16]
        code, out = run(relapse, "predict", w(name + ".keras"), "--data", w("px.h5"), "--out", w("pred.h5"))
        if code != 0:
            check(False, f"predict {name}.keras", out)
            continue
        with h5py.File(w("pred.h5"), "r") as f:
            diff = float(np.max(np.abs(f["pred"][()] - reference)))
        check(diff <= 1e-5, f"predict {name}.keras max |diff| {diff:.2e} <= 1e-5", f"{diff}")

    # resume one epoch: Relapse vs the same Keras's continued fit; then that Keras loads
    # Relapse's .keras checkpoint with its optimizer state.
    for name, K, dataname, exact in made:
        x, y = data[dataname]
        run_dir = w("run-" + name)
        code, out = run(relapse, "resume", w(name + ".keras"), "--data", w(dataname), "--epochs", "1",
                        "--batch-size", "32", "--no-shuffle", "--checkpoints", run_dir)
        if code != 0:
            check(False, f"resume {name}.keras", out)
            continue
        checkpoint = os.path.join(run_dir, "epoch-0001.keras")
        loaded = K.models.load_model(checkpoint)
        stored = arrays_in_keras(checkpoint)
        opt_vars = loaded.optimizer.variables if K is keras else loaded.optimizer.variables()
        stored_opt = [stored[f"optimizer/vars/{i}"] for i in range(len([k for k in stored if k.startswith("optimizer/vars/")]))]
        same = len(opt_vars) == len(stored_opt) and all(
            np.array_equal(np.asarray(v), s) for v, s in zip(opt_vars, stored_opt))
        check(same and int(loaded.optimizer.iterations) == int(stored_opt[0]),
              f"load {name} checkpoint in {'Keras 3' if K is keras else 'tf-keras'}: iterations {int(loaded.optimizer.iterations)}, "
              f"{len(opt_vars)} optimizer variables bit for bit",
              f"{len(opt_vars)} vs {len(stored_opt)} variables")
        layer_keys = sorted(k for k in stored if k.startswith("layers/"))
        weights_same = all(np.array_equal(np.asarray(a), b) for a, b in zip(
            [v for layer in loaded.layers for v in layer.weights], [stored[k] for k in layer_keys]))
        check(weights_same, f"load {name} checkpoint: weights bit for bit")
        if not exact:
            continue
        keras_model = K.models.load_model(w(name + ".keras"))
        keras_model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        worst = max(rel_l2(np.asarray(a), np.asarray(b)) for a, b in zip(loaded.weights, keras_model.weights))
        check(worst <= 1e-4, f"resume {name}: one epoch, worst weight rel L2 {worst:.2e} <= 1e-4 of Keras's fit", f"{worst}")

    # convert: Keras 2.2 and tf-keras legacy checkpoints to .keras, continued in Keras 3 and in Relapse.
    for source in ("keras22-adam.h5", "tfk-adam-trained.h5", "tfk-sgd-momentum-trained.h5"):
        out_path = w("conv-" + source.replace(".h5", ".keras"))
        code, out = run(relapse, "convert", os.path.join(FIX, source), out_path)
        if code != 0:
            check(False, f"convert {source}", out)
            continue
        model = keras.models.load_model(out_path)
        original = tf_keras.models.load_model(os.path.join(FIX, "tfk-adam-trained.h5")) if source == "keras22-adam.h5" else None
        stored = arrays_in_keras(out_path)
        opt_count = len([k for k in stored if k.startswith("optimizer/vars/")])
        check(len(model.optimizer.variables) == opt_count and all(
            np.array_equal(np.asarray(v), stored[f"optimizer/vars/{i}"]) for i, v in enumerate(model.optimizer.variables)),
            f"convert {source}: Keras 3 restores iterations {int(model.optimizer.iterations)} and every slot")
        if original is not None:
            # keras22-adam.h5 holds tfk-adam-trained.h5's weights and m, v (fixtures/README.md).
            same = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(model.weights, original.weights))
            check(same, "convert keras22-adam.h5: weights equal the tf-keras file it was made from")
        run_dir = w("run-conv-" + source)
        code, out = run(relapse, "resume", out_path, "--data", w("data8.h5"), "--epochs", "1", "--batch-size", "32",
                        "--no-shuffle", "--checkpoints", run_dir)
        if code != 0:
            check(False, f"resume converted {source}", out)
            continue
        model.fit(x8, y8, batch_size=32, epochs=1, shuffle=False, verbose=0)
        ours = keras.models.load_model(os.path.join(run_dir, "epoch-0001.keras"))
        worst = max(rel_l2(np.asarray(a), np.asarray(b)) for a, b in zip(ours.weights, model.weights))
        check(worst <= 1e-4, f"convert {source}: Keras 3 continues as Relapse does, worst rel L2 {worst:.2e} <= 1e-4", f"{worst}")

    # The converted config against what Keras 3 itself writes for the same architecture.
    for source, build in (("tfk-adam-trained.h5", small_cnn), ("tfk-sequential-channels-last.h5", None)):
        out_path = w("cfg-" + source.replace(".h5", ".keras"))
        code, out = run(relapse, "convert", os.path.join(FIX, source), out_path)
        if code != 0:
            check(False, f"convert {source}", out)
            continue
        ours = json.loads(zipfile.ZipFile(out_path).read("config.json"))
        theirs = keras.saving.serialize_keras_object(keras.models.load_model(out_path))
        problems = []
        if ours["class_name"] != theirs["class_name"]:
            problems.append(f"class {ours['class_name']} vs {theirs['class_name']}")
        for a, b in zip(ours["config"]["layers"], theirs["config"]["layers"]):
            if a["class_name"] != b["class_name"]:
                problems.append(f"{a['class_name']} vs {b['class_name']}")
            extra = set(a["config"]) - set(b["config"])
            if extra:
                problems.append(f"{a['config'].get('name')}: keys Keras 3 does not write {sorted(extra)}")
            for key in set(a) - {"config"}:
                if key not in b:
                    problems.append(f"{a['config'].get('name')}: entry key {key}")
        check(not problems and len(ours["config"]["layers"]) == len(theirs["config"]["layers"]),
              f"convert {source}: config in Keras 3's dialect (classes, keys as Keras 3 writes them)", "; ".join(problems))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
