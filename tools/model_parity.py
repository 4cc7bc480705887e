"""Judging one model against real Keras, shared by the end-to-end parity scripts
(tools/bn_cnn_parity.py, tools/graph_parity.py, tools/multi_io_parity.py; weights_of and
resume_matches also tools/applications_check.py; nested_model and layer_weights also
tools/keras3_formats.py and tools/make_keras3_fixtures.py).

judge() builds the model in tf-keras and in Keras 3 and checks, for each:
- `relapse predict` of the untrained file against Keras's `predict` (every output);
- one epoch of `relapse train --data D --epochs 1 --batch-size B --no-shuffle --checkpoints DIR`
  within 1e-5 relative of Keras's epoch loss (and of each per-output loss Keras's history
  reports, which Relapse's history.csv must report under the same names) and 1e-4 relative L2
  of every weight tensor of Keras's own `fit` on the same data and order;
- optionally, Keras loading Relapse's checkpoint and predicting what Relapse predicts from it;
- resume: 2 epochs in one run, and 1 epoch then `relapse resume epoch-0001.h5 --epochs 1
  --checkpoints <same folder>`, give bit-identical weights and optimizer state.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import tf_keras
import keras


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def parity_main(run):
    """The parity scripts' main: `--relapse PATH`, then `run(relapse, check)`, where
    `check(ok, label, detail)` prints one line per check; exit status 1 on any failure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "debug", "relapse"))
    args = parser.parse_args()
    failures = []

    def check(ok, label, detail=""):
        print(("ok   " if ok else "FAIL ") + label + (f" ({detail})" if detail else ""), flush=True)
        if not ok:
            failures.append(label)

    run(args.relapse, check)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


def weights_of(path):
    """A legacy .h5's weights by (layer group, position in weight_names)."""
    out = {}
    with h5py.File(path) as f:
        g = f["model_weights"]
        for layer in g.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            for i, n in enumerate(g[layer].attrs["weight_names"]):
                n = n.decode() if isinstance(n, bytes) else n
                out[(layer, i)] = g[layer][n][...]
    return out


def all_arrays(path):
    """Every weight and optimizer array of a legacy .h5, by path."""
    out = {}
    with h5py.File(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and (name.startswith("model_weights") or name.startswith("optimizer_weights")):
                out[name] = obj[...]
        f.visititems(visit)
    return out


def resume_matches(relapse, train, run, two):
    """`train` (a relapse train command without --epochs/--checkpoints) for 2 epochs into `two`
    against `run`'s epoch 1 resumed for one more epoch in the same folder: (bit-identical?, the
    arrays of the 2-epoch checkpoint by path)."""
    subprocess.run(train + ["--epochs", "2", "--checkpoints", two], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([relapse, "resume", os.path.join(run, "epoch-0001.h5"), "--epochs", "1",
                    "--checkpoints", run], check=True, stdout=subprocess.DEVNULL)
    a, b = all_arrays(os.path.join(two, "epoch-0002.h5")), all_arrays(os.path.join(run, "epoch-0002.h5"))
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), a


def nested_model(K):
    """A functional model calling a nested Sequential twice, which holds a nested functional
    model, BatchNormalization and Dense: Input(6) -> block -> block -> Add -> Dense(2, softmax)."""
    L = K.layers
    i = K.Input(shape=(6,))
    inner = K.Model(i, L.Dense(5, activation="tanh", name="inner_out")(L.Dense(5, name="inner_in")(i)), name="inner")
    block = K.Sequential([K.Input(shape=(6,)), inner, L.BatchNormalization(name="block_bn"),
                          L.Dense(6, name="block_out")], name="block")
    inp = K.Input(shape=(6,))
    a = block(inp)
    b = block(a)
    out = L.Dense(2, activation="softmax", name="head")(L.Add(name="sum")([a, b]))
    return K.Model(inp, out)


def layer_weights(model):
    """Every layer's weights by layer name, nested models' layers included (each Keras orders
    `model.weights` its own way; layer names survive conversions between them)."""
    out = {}
    for layer in model.layers:
        if hasattr(layer, "layers"):
            out.update(layer_weights(layer))
        elif layer.weights:
            out[layer.name] = [np.asarray(w) for w in layer.weights]
    return out


def write_data(path, x, y):
    """x and y as `x`/`y`, or (dicts) one dataset per model input and output, named as Keras names them."""
    with h5py.File(path, "w") as f:
        for part, name in ((x, "x"), (y, "y")):
            for key, value in (part.items() if isinstance(part, dict) else [(name, part)]):
                f[key] = value


def _predict(relapse, model_path, data, out):
    """Relapse's predictions: `pred`, or one dataset per output."""
    subprocess.run([relapse, "predict", model_path, "--data", data, "--out", out], check=True, stdout=subprocess.DEVNULL)
    with h5py.File(out) as f:
        return {name: f[name][...] for name in f}


def keras_predict(model, x):
    """Keras's predictions named as Relapse writes them: `pred` for one output, else by output name."""
    p = model.predict(x, verbose=0)
    if isinstance(p, dict):
        return p if len(p) > 1 else {"pred": next(iter(p.values()))}
    if isinstance(p, (list, tuple)):
        return dict(zip(model.output_names, p)) if len(p) > 1 else {"pred": p[0]}
    return {"pred": p}


def _worst(ours, theirs):
    """The largest absolute difference over every output; inf when they name different outputs."""
    if ours.keys() != set(theirs.keys()):
        return float("inf")
    return max(float(np.abs(ours[k] - np.asarray(theirs[k])).max()) for k in ours)


def judge(build, x, y, relapse, check, *, batch_size=32, seed=3, predict_tolerance=1e-5,
          weights_label="every weight tensor", keras_loads_checkpoint=False, resume_holds=None):
    """`build(K)` returns a compiled model; `check(ok, label, detail)` records a result.
    `resume_holds`: (substring, count) of array names the resumed checkpoint must hold."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.h5")
        write_data(data, x, y)
        for tag, K in [("tf-keras", tf_keras), ("Keras 3", keras)]:
            K.utils.set_random_seed(seed)
            model = build(K)
            start = os.path.join(tmp, f"{tag[:2]}-start.h5")
            model.save(start)

            ours = _predict(relapse, start, data, os.path.join(tmp, f"{tag[:2]}-pred.h5"))
            worst = _worst(ours, keras_predict(model, x))
            check(worst <= predict_tolerance, f"{tag}: relapse predict within {predict_tolerance:g} of Keras", f"max abs {worst:.3g}")

            history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            keras_after = os.path.join(tmp, f"{tag[:2]}-after.h5")
            model.save(keras_after)
            run = os.path.join(tmp, f"{tag[:2]}-run1")
            train = [relapse, "train", start, "--data", data, "--batch-size", str(batch_size), "--no-shuffle"]
            subprocess.run(train + ["--epochs", "1", "--checkpoints", run], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run, "history.csv")) as f:
                row = next(csv.DictReader(f))
            relapse_loss = float(row["loss"])
            keras_loss = history.history["loss"][0]
            rel = abs(relapse_loss - keras_loss) / abs(keras_loss)
            check(rel <= 1e-5, f"{tag}: epoch loss Relapse {relapse_loss:.9g} vs Keras {keras_loss:.9g}", f"relative {rel:.3g}")
            # Per-output losses: the ones Keras's history reports, under the same names, and no others.
            keras_outputs = sorted(k for k in history.history if k.endswith("_loss"))
            relapse_outputs = sorted(k for k in row if k.endswith("_loss") and k != "chance_loss")
            if keras_outputs or relapse_outputs:
                rels = [abs(float(row[k]) - history.history[k][0]) / abs(history.history[k][0]) for k in keras_outputs if k in row]
                worst = max(rels, default=0.0)
                check(keras_outputs == relapse_outputs and worst <= 1e-5,
                      f"{tag}: per-output losses {', '.join(keras_outputs) or '(none)'} as Keras reports them",
                      f"Relapse {relapse_outputs}, worst relative {worst:.3g}")
            ref, mine = weights_of(keras_after), weights_of(os.path.join(run, "epoch-0001.h5"))
            worst_name, worst = None, 0.0
            for key, value in ref.items():
                d = float(np.linalg.norm(mine[key].astype(np.float64) - value) / max(np.linalg.norm(value), 1e-12))
                if d > worst:
                    worst_name, worst = key, d
            check(worst <= 1e-4, f"{tag}: {weights_label} within 1e-4 relative L2", f"worst {worst_name}: {worst:.3g}")

            if keras_loads_checkpoint:
                checkpoint = os.path.join(run, "epoch-0001.h5")
                loaded = K.models.load_model(checkpoint)
                ours = _predict(relapse, checkpoint, data, os.path.join(tmp, f"{tag[:2]}-pred-ckpt.h5"))
                worst = _worst(ours, keras_predict(loaded, x))
                check(worst <= 1e-5, f"{tag}: Keras loads Relapse's checkpoint and predicts as Relapse does", f"max abs {worst:.3g}")

            same, a = resume_matches(relapse, train, run, os.path.join(tmp, f"{tag[:2]}-run2"))
            holds = resume_holds is None or len([k for k in a if resume_holds[0] in k]) == resume_holds[1]
            check(same and holds, f"{tag}: 2 epochs == 1 epoch + resume 1, bit for bit ({len(a)} arrays)",
                  "" if same else "differs")
