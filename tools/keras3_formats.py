#!/usr/bin/env python3
"""Real Keras 3 and tf-keras judge Relapse on the new saving library's files (issue 14).

Makes, with Keras 3.15 (TensorFlow backend) and tf-keras 2.21, `.keras` and `.weights.h5`
files of the seed model and of every architecture Relapse computes: the small CNN (Conv2D
channels_first, MaxPooling2D, Flatten both ways, Dense, Activation; optimizer state of Adam,
AdamW with amsgrad, SGD with momentum, RMSprop centered with momentum), a channels_last
Sequential (strides, same padding, Dropout), the seed model, a BatchNormalization CNN
(tools/bn_cnn_parity.py), every spatial layer (tools/spatial_parity.py, dropout rates 0), a
functional graph with residual Add, broadcast Multiply, Concatenate, a shared layer and a
nested Sequential called twice (tools/graph_parity.py), and a Sequential holding a functional
model called twice (model_parity.nested_model); each trained one epoch (optimizer state) or
only compiled (none). Checks:

  inspect   `relapse inspect` reads every file (exit 0; a lone .weights.h5 shows its
            optimizer variables).
  predict   `relapse predict` within 1e-5 (max abs) of the same Keras's predict.
  resume    `relapse resume F` one epoch (no shuffle; models without active dropout) within
            1e-4 relative L2, per weight tensor, of that Keras's own `load_model(F).fit` one epoch.
  load      That Keras loads Relapse's `.keras` checkpoint: `iterations` and the number of
            optimizer variables as stored, and saving what it loaded gives every dataset of
            Relapse's archive (weights at their nested paths, every optimizer variable) bit for bit.
  weights   Keras's `load_weights` of a `.weights.h5` Relapse wrote (a resave of Keras's own,
            and of the checkpoint) gives the checkpoint's weights bit for bit.
  dialects  `relapse convert F.keras F.h5`: the Keras that wrote F loads it with every layer's
            weights bit for bit (tf-keras: and every optimizer variable; Keras 3's legacy h5
            loader restores only `iterations`, a gap of Keras's); `--dialect` the other Keras:
            tf-keras loads a Keras 3 model as .h5 and as .keras (weights and every optimizer
            slot bit for bit, predict within 1e-5 of Keras 3's), Keras 3 a tf-keras one as .h5
            (weights, iterations, predict).
  convert   a Keras 2.2-layout checkpoint (fixtures/keras22-adam.h5), tf-keras ones, and each
            tf-keras architecture's legacy h5, `relapse convert`ed to .keras, load in Keras 3
            with weights and optimizer state bit for bit and predict as tf-keras did; the small
            ones continue in Keras 3 (load_model + fit one epoch) to within 1e-4 of the same
            continuation in Relapse; the converted config has the layers, classes and config
            keys Keras 3 writes for the same architecture.

tf-keras's BatchNormalization CNN is not resumed against tf-keras's fit: TensorFlow's oneDNN
fused batch norm moves tf-keras's own fit away from its unfused math (tools/bn_cnn_parity.py
judges it with the reference kernels, which cannot run this script's channels_first models).

usage: tools/keras3_formats.py [--relapse PATH] [--keep DIR]
Prints one line per check and finally exactly "N passed, M failed"; exit 1 on any failure.
"""
import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

# TensorFlow reads TF_ENABLE_ONEDNN_OPTS when it loads, here: bn_cnn_parity's setting of it
# (reference kernels, which have no channels_first convolution gradient) must come too late.
import keras  # noqa: E402, F401
import tf_keras  # noqa: E402, F401

import bn_cnn_parity  # noqa: E402
import graph_parity  # noqa: E402
import spatial_parity  # noqa: E402
from model_parity import layer_weights, nested_model  # noqa: E402

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


def compiled_nested(K):
    model = nested_model(K)
    model.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    return model


def archive_arrays(path):
    """Datasets of a .keras archive's model.weights.h5 (or of a .weights.h5) by path."""
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    else:
        f = h5py.File(path, "r")
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def optimizer_vars(K, model, keras):
    return [np.asarray(v) for v in (model.optimizer.variables if K is keras else model.optimizer.variables())]


def positional(stored):
    return [stored[f"optimizer/vars/{i}"] for i in range(len([k for k in stored if k.startswith("optimizer/vars/")]))]


def legacy_optimizer_weights(path):
    """A legacy .h5's optimizer_weights in weight_names order."""
    with h5py.File(path, "r") as f:
        g = f["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
        return [g[n][()] for n in names]


def same_layers(a, b):
    """Both models' layers hold the same weights bit for bit (layer names as keys)."""
    if a.keys() != b.keys():
        return False, f"layers {sorted(set(a) ^ set(b))}"
    bad = [k for k in a if len(a[k]) != len(b[k]) or not all(np.array_equal(x, y) for x, y in zip(a[k], b[k]))]
    return not bad, f"differ: {bad}"


def same_arrays(a, b):
    return len(a) == len(b) and all(np.asarray(x).shape == np.asarray(y).shape and np.array_equal(x, y) for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "debug", "relapse"))
    parser.add_argument("--keep", help="write the files into this folder and keep them")
    args = parser.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        return judge(args.relapse, args.keep)
    with tempfile.TemporaryDirectory(prefix="relapse-k3-") as work:
        return judge(args.relapse, work)


def judge(relapse, work):
    started = time.time()
    import keras
    import tf_keras

    w = lambda name: os.path.join(work, name)  # noqa: E731

    with h5py.File(os.path.join(FIX, "train-data.h5"), "r") as f:
        x8, y8 = f["x"][:128].astype(np.float32), f["y"][:128].astype(np.float32)
    x8l = np.ascontiguousarray(x8.transpose(0, 2, 3, 1))
    rng = np.random.default_rng(0)
    data = {
        "data8.h5": (x8, y8), "data8l.h5": (x8l, y8),
        "bn.h5": (rng.uniform(0, 1, (64, 16, 16, 3)).astype(np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)]),
        "graph.h5": (rng.uniform(0, 1, (64, 8, 8, 3)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]),
        "spatial.h5": (rng.standard_normal((64, 12, 12, 3)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]),
        "nested.h5": (rng.normal(size=(64, 6)).astype(np.float32), np.eye(2, dtype=np.float32)[rng.integers(0, 2, 64)]),
    }
    code, out = run(relapse, "make-data", "--synthetic", "64", "--out", w("seed.h5"))
    check(code == 0, "make-data seed.h5", out)
    with h5py.File(w("seed.h5"), "r") as f:
        data["seed.h5"] = (f["x"][()].astype(np.float32), f["y"][()].astype(np.float32))
    for name, (x, y) in data.items():
        if name != "seed.h5":
            with h5py.File(w(name), "w") as f:
                f["x"], f["y"] = x, y

    # (name, Keras module, builder, optimizer (None: the builder compiles), data, can resume exactly)
    own = None
    spatial = lambda K: spatial_parity.build(K, 0.0, False)  # noqa: E731 - dropout off: TF's masks are not reproducible
    cases = [
        ("k3-cnn-adam", keras, small_cnn, lambda K: K.optimizers.Adam(), "data8.h5", True),
        ("k3-cnn-adamw-amsgrad", keras, small_cnn, lambda K: K.optimizers.AdamW(amsgrad=True), "data8.h5", True),
        ("k3-cnn-sgd", keras, lambda K: small_cnn(K, "channels_first"), lambda K: K.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "data8.h5", True),
        ("k3-cnn-rmsprop", keras, small_cnn, lambda K: K.optimizers.RMSprop(momentum=0.5, centered=True), "data8.h5", True),
        ("k3-seq", keras, sequential_last, lambda K: K.optimizers.Adam(), "data8l.h5", False),
        ("k3-seed", keras, seed_model, lambda K: K.optimizers.Adam(), "seed.h5", True),
        ("k3-bn", keras, bn_cnn_parity.build, own, "bn.h5", True),
        ("k3-spatial", keras, spatial, own, "spatial.h5", True),
        ("k3-graph", keras, graph_parity.build, own, "graph.h5", True),
        ("k3-nested", keras, compiled_nested, own, "nested.h5", True),
        ("tfk-cnn-adam", tf_keras, small_cnn, lambda K: K.optimizers.Adam(), "data8.h5", True),
        ("tfk-seq", tf_keras, sequential_last, lambda K: K.optimizers.Adam(), "data8l.h5", False),
        ("tfk-bn", tf_keras, bn_cnn_parity.build, own, "bn.h5", False),  # oneDNN's fused batch norm: see above
        ("tfk-spatial", tf_keras, spatial, own, "spatial.h5", True),
        ("tfk-graph", tf_keras, graph_parity.build, own, "graph.h5", True),
        ("tfk-nested", tf_keras, compiled_nested, own, "nested.h5", True),
    ]
    made = []
    for name, K, build, opt, dataname, exact in cases:
        K.utils.set_random_seed(3)
        x, y = data[dataname]
        model = build(K)
        if opt is not None:
            model.compile(optimizer=opt(K), loss="binary_crossentropy", metrics=["accuracy"])
        model.save(w(name + "-untrained.keras"))
        model.save_weights(w(name + "-untrained.weights.h5"))
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.save(w(name + ".keras"))
        model.save_weights(w(name + ".weights.h5"))
        if K is tf_keras:
            model.save(w(name + "-legacy.h5"))
        made.append((name, K, dataname, exact, model.predict(x[:16], verbose=0)))

    # inspect and predict
    for name, K, dataname, exact, reference in made:
        for suffix in ("-untrained.keras", "-untrained.weights.h5", ".keras", ".weights.h5"):
            code, out = run(relapse, "inspect", w(name + suffix))
            shows = "variables by position" in out if suffix == ".weights.h5" else "Optimizer state" in out
            check(code == 0 and shows, f"inspect {name}{suffix}", out[-300:])
        x, _ = data[dataname]
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
    # Relapse's .keras checkpoint with its optimizer state, and its weights files.
    for name, K, dataname, exact, _ in made:
        x, y = data[dataname]
        tag = "Keras 3" if K is keras else "tf-keras"
        run_dir = w("run-" + name)
        code, out = run(relapse, "resume", w(name + ".keras"), "--data", w(dataname), "--epochs", "1",
                        "--batch-size", "32", "--no-shuffle", "--checkpoints", run_dir)
        if code != 0:
            check(False, f"resume {name}.keras", out)
            continue
        checkpoint = os.path.join(run_dir, "epoch-0001.keras")
        loaded = K.models.load_model(checkpoint)
        stored = archive_arrays(checkpoint)
        stored_opt = positional(stored)
        opt_vars = optimizer_vars(K, loaded, keras)
        check(len(opt_vars) == len(stored_opt) and int(loaded.optimizer.iterations) == int(stored_opt[0]),
              f"load {name} checkpoint in {tag}: iterations {int(loaded.optimizer.iterations)}, {len(opt_vars)} optimizer variables",
              f"{len(opt_vars)} vs {len(stored_opt)} variables")
        loaded.save(w("resaved.keras"))
        again = archive_arrays(w("resaved.keras"))
        ours = {k: v for k, v in stored.items() if not k.startswith("relapse")}
        missing = sorted(k for k in ours if k not in again)
        differ = sorted(k for k in ours if k in again and not np.array_equal(ours[k], again[k]))
        check(not missing and not differ,
              f"load {name} checkpoint in {tag}: saved again, all {len(ours)} datasets (weights, optimizer) bit for bit",
              f"missing {missing[:4]}, differ {differ[:4]}")
        # .weights.h5 written by Relapse: a resave of Keras's own, and the checkpoint's.
        fresh = K.models.load_model(w(name + ".keras"))
        keras_own = layer_weights(fresh)
        for source, label in ((w(name + ".weights.h5"), "Keras's"), (checkpoint, "the checkpoint's")):
            code, out = run(relapse, "resave", source, w("ours.weights.h5"))
            if code != 0:
                check(False, f"resave {label} weights of {name} as .weights.h5", out)
                continue
            fresh.load_weights(w("ours.weights.h5"))
            expected = keras_own if source.endswith(".h5") else layer_weights(loaded)
            ok, detail = same_layers(layer_weights(fresh), expected)
            check(ok, f"{tag} load_weights of Relapse's .weights.h5 ({label} weights of {name}) bit for bit", detail)
        if not exact:
            continue
        keras_model = K.models.load_model(w(name + ".keras"))
        keras_model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        worst = max(rel_l2(np.asarray(a), np.asarray(b)) for a, b in zip(loaded.weights, keras_model.weights))
        check(worst <= 1e-4, f"resume {name}: one epoch, worst weight rel L2 {worst:.2e} <= 1e-4 of Keras's fit", f"{worst}")

    # .keras to legacy .h5, for the Keras that wrote it and for the other one; Keras 3's .keras
    # for tf-keras.
    for name, K, dataname, exact, reference in made:
        if name in ("k3-cnn-adamw-amsgrad", "k3-cnn-sgd", "k3-cnn-rmsprop", "k3-seed"):
            continue  # same layers as k3-cnn-adam; the optimizers' layouts are judged above
        source = w(name + ".keras")
        original = layer_weights(K.models.load_model(source))
        stored_opt = positional(archive_arrays(source))
        x, _ = data[dataname]
        own_dialect, other = ("keras3", "tf-keras") if K is keras else ("tf-keras", "keras3")
        targets = [(".h5", None), (".h5", other)] + ([(".keras", "tf-keras")] if K is keras else [])
        for extension, dialect in targets:
            target_k = (keras if dialect is None else tf_keras) if K is keras else (tf_keras if dialect is None else keras)
            out_path = w(f"h5-{name}-{dialect or own_dialect}{extension}")
            code, out = run(relapse, "convert", source, out_path, *(["--dialect", dialect] if dialect else []))
            label = f"convert {name}.keras to {extension}" + (f" --dialect {dialect}" if dialect else f" ({own_dialect}, its own)")
            if code != 0:
                check(False, label, out)
                continue
            try:
                loaded = target_k.models.load_model(out_path)
            except Exception as error:  # noqa: BLE001 - the failure is the finding
                check(False, f"{label}: {'Keras 3' if target_k is keras else 'tf-keras'} loads it", str(error).splitlines()[0][:300])
                continue
            ok, detail = same_layers(layer_weights(loaded), original)
            check(ok, f"{label}: {'Keras 3' if target_k is keras else 'tf-keras'} loads every layer's weights bit for bit", detail)
            if target_k is tf_keras:
                theirs = optimizer_vars(tf_keras, loaded, keras)
                # Keras 3's learning-rate variable (position 1) has no place in tf-keras.
                carried = stored_opt if K is tf_keras else stored_opt[:1] + stored_opt[2:]
                in_file = legacy_optimizer_weights(out_path) if extension == ".h5" else positional(archive_arrays(out_path))
                check(same_arrays(theirs, in_file) and same_arrays(theirs, carried),
                      f"{label}: tf-keras restores iterations {int(loaded.optimizer.iterations)} and all {len(theirs)} optimizer variables bit for bit")
            else:
                check(int(loaded.optimizer.iterations) == int(stored_opt[0]),
                      f"{label}: Keras 3 restores iterations {int(loaded.optimizer.iterations)} (its legacy loader restores no slots)")
            if dialect is not None:
                diff = float(np.max(np.abs(loaded.predict(x[:16], verbose=0) - reference)))
                check(diff <= 1e-5, f"{label}: predicts within 1e-5 of the original ({diff:.2e})", f"{diff}")

    # legacy checkpoints to .keras, continued in Keras 3 and in Relapse.
    for source in ("keras22-adam.h5", "tfk-adam-trained.h5", "tfk-sgd-momentum-trained.h5"):
        out_path = w("conv-" + source.replace(".h5", ".keras"))
        code, out = run(relapse, "convert", os.path.join(FIX, source), out_path)
        if code != 0:
            check(False, f"convert {source}", out)
            continue
        model = keras.models.load_model(out_path)
        original = tf_keras.models.load_model(os.path.join(FIX, "tfk-adam-trained.h5")) if source == "keras22-adam.h5" else None
        stored = archive_arrays(out_path)
        check(same_arrays(optimizer_vars(keras, model, keras), positional(stored)),
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

    # Every tf-keras architecture's legacy h5 to .keras: Keras 3 loads it with its state.
    for name, K, dataname, exact, reference in made:
        if K is not tf_keras:
            continue
        legacy = w(name + "-legacy.h5")
        out_path = w(f"conv-{name}.keras")
        code, out = run(relapse, "convert", legacy, out_path)
        if code != 0:
            check(False, f"convert {name}-legacy.h5 to .keras", out)
            continue
        try:
            model = keras.models.load_model(out_path)
        except Exception as error:  # noqa: BLE001 - the failure is the finding
            check(False, f"convert {name}-legacy.h5 to .keras: Keras 3 loads it", str(error).splitlines()[0][:300])
            continue
        ok, detail = same_layers(layer_weights(model), layer_weights(tf_keras.models.load_model(legacy)))
        check(ok, f"convert {name}-legacy.h5 to .keras: Keras 3 loads every layer's weights bit for bit", detail)
        theirs = legacy_optimizer_weights(legacy)
        ours = optimizer_vars(keras, model, keras)
        check(same_arrays(ours[:1] + ours[2:], theirs),
              f"convert {name}-legacy.h5 to .keras: Keras 3 restores iterations and all {len(theirs) - 1} slots bit for bit")
        x, _ = data[dataname]
        diff = float(np.max(np.abs(model.predict(x[:16], verbose=0) - reference)))
        check(diff <= 1e-5, f"convert {name}-legacy.h5 to .keras: Keras 3 predicts within 1e-5 of tf-keras ({diff:.2e})", f"{diff}")

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

    print(f"({time.time() - started:.0f} s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
