#!/usr/bin/env python3
"""End-to-end check of models with several inputs and outputs (issue 13), built by real tf-keras
and by Keras 3 (TensorFlow backend):

- "two in, two out": an image branch (Conv2D, MaxPooling2D, Flatten) and a vector branch (Dense)
  joined by Concatenate into a shared Dense, a classification head (softmax, categorical
  crossentropy) and a regression head (mse), loss_weights 1 and 0.5; tf-keras compiles the
  losses and weights as dicts by output name, Keras 3 the losses as a dict and the weights as a
  list. Data: datasets `image`, `vector`, `cls`, `reg`.
- "one in, two out": a CNN whose softmax output `cls` (categorical crossentropy) also feeds the
  second output `reg` (mse on Dense([features, cls])), weights [1, 0.3] as lists: tf-keras's
  loss on the cached logits and reg's gradient through the softmax meet at cls.
- "one in, two out, one loss": the same with loss [categorical_crossentropy, None]: reg is
  predicted, gets no targets and no training; Keras 3 then reports no per-output loss.
- "dict in, dict out": `Model({"vector": b, "image": a}, {"reg": r, "cls": c})`, whose configs
  hold dicts (flattened by sorted key), losses and weights as dicts.

For each Keras (model_parity.judge): `relapse predict` within 1e-5 max abs of Keras's predict for
every output; one epoch of `relapse train --no-shuffle` within 1e-5 relative of Keras's epoch
loss and of each per-output loss its history reports (Relapse's history.csv must report the same
names), and within 1e-4 relative L2 of every weight tensor of Keras's own fit; Keras loads
Relapse's checkpoint and predicts as Relapse does; 2 epochs == 1 epoch + resume, bit for bit.
Then Keras 3's `.keras` format: Relapse trains the two-in-two-out `.keras` file one epoch, Keras 3
loads the `.keras` checkpoint (predictions within 1e-5, optimizer iterations), and 2 epochs ==
1 + resume bit for bit in `.keras` too.

usage: tools/multi_io_parity.py [--relapse PATH]
"""
import io
import os
import subprocess
import tempfile
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402,F401 - imported here so TensorFlow reads the environment set above
import keras  # noqa: E402

from model_parity import judge, parity_main, keras_predict, write_data  # noqa: E402



def mse(K):
    """Keras 3.15 cannot load its own legacy .h5 whose loss is "mse" (it resolves the alias to
    `keras.metrics.mse`, "not a KerasSaveable subclass"), so its models name the loss in full."""
    return "mse" if K is tf_keras else "mean_squared_error"


def two_in_two_out(K):
    L = K.layers
    image = K.Input(shape=(8, 8, 2), name="image")
    vector = K.Input(shape=(5,), name="vector")
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    a = L.Flatten(name="flat")(L.MaxPooling2D(name="pool")(a))
    b = L.Dense(6, activation="tanh", name="vec_dense")(vector)
    shared = L.Dense(12, activation="relu", name="shared")(L.Concatenate(name="join")([a, b]))
    cls = L.Dense(3, activation="softmax", name="cls")(shared)
    reg = L.Dense(2, name="reg")(L.Dense(6, activation="tanh", name="reg_hidden")(shared))
    model = K.Model([image, vector], [cls, reg])
    losses = {"cls": "categorical_crossentropy", "reg": mse(K)}
    weights = {"cls": 1.0, "reg": 0.5} if K is tf_keras else [1.0, 0.5]
    model.compile(optimizer=K.optimizers.Adam(learning_rate=3e-3), loss=losses, loss_weights=weights)
    return model


def one_in_two_out(K, losses):
    L = K.layers
    inp = K.Input(shape=(8, 8, 3), name="pixels")
    h = L.Conv2D(6, 3, activation="relu", name="conv")(inp)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    h = L.Dense(10, activation="tanh", name="features")(h)
    cls = L.Dense(3, activation="softmax", name="cls")(h)
    reg = L.Dense(1, name="reg")(L.Concatenate(name="with_cls")([h, cls]))
    model = K.Model(inp, [cls, reg])
    model.compile(optimizer=K.optimizers.Adam(learning_rate=5e-3), loss=losses, loss_weights=[1.0, 0.3])
    return model


def dict_in_dict_out(K):
    L = K.layers
    image = K.Input(shape=(6,), name="image")
    vector = K.Input(shape=(3,), name="vector")
    h = L.Dense(8, activation="relu", name="h")(L.Concatenate(name="cat")([image, vector]))
    cls = L.Dense(3, activation="softmax", name="cls")(h)
    reg = L.Dense(2, name="reg")(h)
    model = K.Model({"vector": vector, "image": image}, {"reg": reg, "cls": cls})
    model.compile(optimizer=K.optimizers.Adam(learning_rate=1e-2), loss={"cls": "categorical_crossentropy", "reg": mse(K)},
                  loss_weights={"cls": 1.0, "reg": 0.25})
    return model


def keras_format(relapse, check, x, y):
    """Keras 3's .keras: Relapse trains it, Keras 3 loads the checkpoint, resume bit for bit."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.h5")
        write_data(data, x, y)
        keras.utils.set_random_seed(5)
        start = os.path.join(tmp, "start.keras")
        two_in_two_out(keras).save(start)
        train = [relapse, "train", start, "--data", data, "--batch-size", "32", "--no-shuffle"]
        one, two = os.path.join(tmp, "one"), os.path.join(tmp, "two")
        subprocess.run(train + ["--epochs", "1", "--checkpoints", one], check=True, stdout=subprocess.DEVNULL)
        checkpoint = os.path.join(one, "epoch-0001.keras")
        loaded = keras.models.load_model(checkpoint)
        out = os.path.join(tmp, "pred.h5")
        subprocess.run([relapse, "predict", checkpoint, "--data", data, "--out", out], check=True, stdout=subprocess.DEVNULL)
        with h5py.File(out) as f:
            ours = {name: f[name][...] for name in f}
        theirs = keras_predict(loaded, x)
        worst = max(float(np.abs(ours[k] - theirs[k]).max()) for k in theirs) if ours.keys() == theirs.keys() else float("inf")
        iterations = int(loaded.optimizer.iterations.numpy())
        check(worst <= 1e-5 and iterations == 3, "Keras 3 loads Relapse's .keras checkpoint (optimizer state included)",
              f"max abs {worst:.3g}, iterations {iterations}")
        subprocess.run(train + ["--epochs", "2", "--checkpoints", two], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([relapse, "resume", checkpoint, "--epochs", "1", "--checkpoints", one], check=True, stdout=subprocess.DEVNULL)

        def arrays(path):
            with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:
                out = {}
                f.visititems(lambda name, obj: out.__setitem__(name, obj[...]) if isinstance(obj, h5py.Dataset) else None)
                return out

        a, b = arrays(os.path.join(two, "epoch-0002.keras")), arrays(os.path.join(one, "epoch-0002.keras"))
        same = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        check(same and any(k.startswith("optimizer") for k in a), f"Keras 3 .keras: 2 epochs == 1 epoch + resume, bit for bit ({len(a)} arrays)",
              "" if same else "differs")


def checks(relapse, check):
    rng = np.random.default_rng(0)
    n = 96
    x = {"image": rng.uniform(0, 1, size=(n, 8, 8, 2)).astype(np.float32),
         "vector": rng.normal(size=(n, 5)).astype(np.float32)}
    y = {"cls": np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=n)],
         "reg": rng.normal(size=(n, 2)).astype(np.float32)}
    print("two in, two out")
    judge(two_in_two_out, x, y, relapse, check, keras_loads_checkpoint=True)

    pixels = rng.uniform(0, 1, size=(n, 8, 8, 3)).astype(np.float32)
    targets = {"cls": np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=n)],
               "reg": rng.normal(size=(n, 1)).astype(np.float32)}
    print("one in, two out")
    judge(lambda K: one_in_two_out(K, ["categorical_crossentropy", mse(K)]), {"pixels": pixels}, targets,
          relapse, check, keras_loads_checkpoint=True)
    print("one in, two out, one loss")
    judge(lambda K: one_in_two_out(K, ["categorical_crossentropy", None]), {"pixels": pixels}, {"cls": targets["cls"]},
          relapse, check, keras_loads_checkpoint=True)

    print("dict in, dict out")
    judge(dict_in_dict_out, {"image": rng.normal(size=(n, 6)).astype(np.float32), "vector": x["vector"][:, :3].copy()},
          {"cls": targets["cls"], "reg": y["reg"]}, relapse, check, keras_loads_checkpoint=True)

    print("Keras 3 .keras")
    keras_format(relapse, check, x, y)


def main():
    parity_main(checks)


if __name__ == "__main__":
    main()
