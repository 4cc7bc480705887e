#!/usr/bin/env python3
"""Build every file in fixtures/ with real Keras (tf-keras 2.x and Keras 3),
plus one file laid out as Keras 2.2.4 wrote it, and fixtures/README.md.

usage: .venv/bin/python tools/make_fixtures.py [--out DIR]

Deterministic: fixed seeds, op determinism on, no shuffling. Rerunning on the
same machine rewrites the same numbers. TensorFlow's CPU kernels for
channels_first convolution and pooling exist only through oneDNN, so oneDNN
stays on; another CPU may therefore change the last bits of trained weights.
"""
import argparse
import json
import os
import sys

# Must be set before TensorFlow / Keras are imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"  # Keras 3's backend, explicitly

import warnings  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402  (tf-keras 2.x, "tf.keras")
import keras  # noqa: E402  (Keras 3)

warnings.filterwarnings("ignore")
tf.get_logger().setLevel("ERROR")
tf.config.experimental.enable_op_determinism()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "fixtures")
README = []  # (file name, how it was made), in the order written

SEED_MODEL = 0       # initial weights of the seed model
SEED_SMALL = 1       # small trained tf-keras models
SEED_TRAIN = 7       # training-parity start weights (same for every optimizer)
SEED_DATA = 1234     # numpy data


def path(name):
    return os.path.join(OUT, name)


def note(name, text):
    README.append((name, text))


def fresh_tfk(seed):
    """Reset tf-keras's layer-name counters and every RNG, so that layer names
    (conv2d, dense, ...) and initial weights are the same on every run."""
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(seed)


def fresh_k3(seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def set_root_attr(file_name, name, value):
    """Add a float64 root attribute after Keras has saved the file (Keras
    ignores root attributes it does not know)."""
    with h5py.File(path(file_name), "a") as f:
        f.attrs[name] = np.float64(value)


def write_arrays(file_name, **arrays):
    with h5py.File(path(file_name), "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def line_images(n, size, rng):
    """Images of one straight line, half of them with a gap ("broken"), like
    the original question's data. Float32 in [0, 1], shape (n, 1, size, size);
    labels one-hot [1,0] solid, [0,1] broken."""
    x = np.zeros((n, 1, size, size), np.float32)
    y = np.zeros((n, 2), np.float32)
    for i in range(n):
        broken = i % 2 == 1
        while True:
            p0, p1 = rng.uniform(2, size - 3, 2), rng.uniform(2, size - 3, 2)
            if np.hypot(*(p1 - p0)) > size / 2:
                break
        steps = int(np.ceil(np.hypot(*(p1 - p0)) * 2))
        t = np.linspace(0, 1, steps)
        if broken:
            g0 = rng.uniform(0.3, 0.6)
            t = t[(t < g0) | (t > g0 + 4.0 / np.hypot(*(p1 - p0)))]
        pts = np.rint(p0[None] + t[:, None] * (p1 - p0)[None]).astype(int)
        x[i, 0, pts[:, 0], pts[:, 1]] = 1.0
        x[i, 0] = np.clip(x[i, 0] + rng.uniform(0, 0.05, (size, size)), 0, 1)
        y[i, int(broken)] = 1.0
    return x, y


def small_data(n, rng, channels_last=False, classes=2):
    """Random images whose class depends on where the brightness is, so that
    training actually moves the weights in a consistent direction."""
    x = rng.uniform(0, 1, (n, 1, 8, 8)).astype(np.float32)
    score = x[:, 0, :, :4].mean(axis=(1, 2)) - x[:, 0, :, 4:].mean(axis=(1, 2))
    if classes == 2:
        label = (score > 0).astype(int)
    else:
        label = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    y = np.eye(classes, dtype=np.float32)[label]
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x, y


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def small_cnn(K, flatten_data_format=None):
    """Input (1,8,8) -> Conv2D(4,3x3,relu) -> MaxPooling2D -> Flatten ->
    Dense(2) -> softmax, channels_first. K is tf_keras or keras (3)."""
    inp = K.Input(shape=(1, 8, 8))
    x = K.layers.Conv2D(4, (3, 3), activation="relu", data_format="channels_first")(inp)
    x = K.layers.MaxPooling2D(data_format="channels_first")(x)
    x = K.layers.Flatten(data_format=flatten_data_format)(x)
    x = K.layers.Dense(2)(x)
    out = K.layers.Activation("softmax")(x)
    return K.Model(inp, out)


def sequential_channels_last(K):
    return K.Sequential([
        K.Input(shape=(8, 8, 1)),
        K.layers.Conv2D(4, (3, 3), padding="same", strides=1, activation="relu"),
        K.layers.Conv2D(3, (3, 3), strides=2, padding="same"),
        K.layers.MaxPooling2D(pool_size=2, padding="same"),
        K.layers.Dropout(0.25),
        K.layers.Flatten(),
        K.layers.Dense(5, activation="tanh"),
        K.layers.Dense(3, activation="softmax"),
    ])


# --------------------------------------------------------------------------
# a. The original question's model
# --------------------------------------------------------------------------

def make_seed_model():
    K = tf_keras
    fresh_tfk(SEED_MODEL)
    inp = K.Input(shape=(1, 32, 32))
    x = K.layers.Activation("relu")(inp)
    x = K.layers.Conv2D(64, (16, 16), data_format="channels_first")(x)
    x = K.layers.Conv2D(128, (16, 16), data_format="channels_first")(x)
    x = K.layers.MaxPooling2D(data_format="channels_first")(x)
    x = K.layers.Reshape((128,))(x)  # (128,1,1) -> (128,)
    x = K.layers.Dense(2)(x)
    out = K.layers.Activation("softmax")(x)
    model = K.Model(inp, out)
    model.compile(optimizer=K.optimizers.Adam(), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.save(path("broken-lines-start.h5"))
    note("broken-lines-start.h5",
         "tf-keras functional: Input(1,32,32), Activation relu, Conv2D(64,16x16) and "
         "Conv2D(128,16x16) channels_first, MaxPooling2D, Reshape((128,)), Dense(2), "
         "softmax; compiled Adam + binary_crossentropy + accuracy; untrained, "
         f"`model.save` (seed {SEED_MODEL}).")

    with open(path("broken-lines-model.json"), "w") as f:
        f.write(model.to_json())
    note("broken-lines-model.json", "`model.to_json()` of the same model (architecture only, "
         "for training from Keras initializers).")

    x, _ = line_images(8, 32, np.random.default_rng(SEED_DATA + 1))
    pred = model.predict(x, batch_size=8, verbose=0)
    write_arrays("ref-predict-seed.h5", x=x, pred=pred.astype(np.float32))
    note("ref-predict-seed.h5",
         "`x` (8,1,32,32) line images (4 solid, 4 broken) and `pred` = tf-keras "
         "`predict` of broken-lines-start.h5 on them.")


# --------------------------------------------------------------------------
# b. Small tf-keras models
# --------------------------------------------------------------------------

def make_tfk_trained(name, optimizer, description, flatten_data_format=None,
                     ref_name=None):
    K = tf_keras
    fresh_tfk(SEED_SMALL)
    model = small_cnn(K, flatten_data_format)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    x, y = small_data(64, np.random.default_rng(SEED_DATA + 2))
    model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    model.save(path(name), save_format="h5")
    fl = f"Flatten(data_format='{flatten_data_format}')" if flatten_data_format else "Flatten()"
    note(name, "tf-keras functional Input(1,8,8), Conv2D(4,3x3,relu) channels_first, "
         f"MaxPooling2D, {fl}, Dense(2), softmax; binary_crossentropy; {description}; "
         "trained 2 epochs (64 samples, batch 32, no shuffle), saved as h5.")
    if ref_name:
        xr, _ = small_data(8, np.random.default_rng(SEED_DATA + 3))
        write_arrays(ref_name, x=xr, pred=model.predict(xr, verbose=0).astype(np.float32))
        note(ref_name, f"`x` (8,1,8,8) and `pred` = tf-keras `predict` of {name}.")
    return model


def make_tfk_small():
    K = tf_keras
    make_tfk_trained("tfk-adam-trained.h5", K.optimizers.Adam(), "Adam defaults")
    make_tfk_trained("tfk-adam-amsgrad-trained.h5", K.optimizers.Adam(amsgrad=True),
                     "Adam(amsgrad=True)")
    # The SGD model also exercises Flatten's transposing path (channels_first
    # Flatten permutes (C,H,W) to (H,W,C) first), with a prediction reference.
    make_tfk_trained("tfk-sgd-momentum-trained.h5",
                     K.optimizers.SGD(momentum=0.9, nesterov=True),
                     "SGD(momentum=0.9, nesterov=True)",
                     flatten_data_format="channels_first",
                     ref_name="ref-predict-flatten-channels-first.h5")
    make_tfk_trained("tfk-rmsprop-trained.h5",
                     K.optimizers.RMSprop(momentum=0.5, centered=True),
                     "RMSprop(momentum=0.5, centered=True)")

    # Sequential, channels_last.
    fresh_tfk(SEED_SMALL)
    model = sequential_channels_last(K)
    model.compile(optimizer=K.optimizers.Adam(), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = small_data(64, np.random.default_rng(SEED_DATA + 4), channels_last=True, classes=3)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    model.save(path("tfk-sequential-channels-last.h5"), save_format="h5")
    note("tfk-sequential-channels-last.h5",
         "tf-keras Sequential channels_last: Input(8,8,1), Conv2D(4,3x3,same,relu), "
         "Conv2D(3,3x3,strides 2,same), MaxPooling2D(2,same), Dropout(0.25), Flatten, "
         "Dense(5,tanh), Dense(3,softmax); Adam + categorical_crossentropy; trained 1 epoch.")
    xr, _ = small_data(8, np.random.default_rng(SEED_DATA + 5), channels_last=True, classes=3)
    write_arrays("ref-predict-sequential.h5", x=xr,
                 pred=model.predict(xr, verbose=0).astype(np.float32))
    note("ref-predict-sequential.h5",
         "`x` (8,8,8,1) and `pred` = tf-keras `predict` of tfk-sequential-channels-last.h5 "
         "(Dropout inactive).")

    # Weights only.
    fresh_tfk(SEED_SMALL)
    model = small_cnn(K)
    model.save_weights(path("tfk-weights-only.h5"))
    note("tfk-weights-only.h5",
         "tf-keras `model.save_weights('x.h5')` of the untrained small channels_first CNN: "
         "layer_names/weight_names at the root, no model_config.")

    # layer_names past 64 KB: tf-keras splits it into layer_names0, 1, ...
    fresh_tfk(SEED_SMALL)
    inp = K.Input(shape=(4,), name="input")
    x = inp
    n_layers = 340  # 340 names x 200 bytes = 68 000 bytes > 64 512
    for i in range(n_layers):
        x = K.layers.Activation("linear", name=f"act_{i:04d}_".ljust(200, "x"))(x)
    model = K.Model(inp, x)
    model.save(path("tfk-many-layers.h5"), save_format="h5")
    with h5py.File(path("tfk-many-layers.h5"), "r") as f:
        split = sorted(k for k in f["model_weights"].attrs if k.startswith("layer_names"))
    assert split[0] == "layer_names0" and "layer_names" not in split, split
    note("tfk-many-layers.h5",
         f"tf-keras functional, Input(4) + {n_layers} Activation('linear') layers with "
         f"200-character names, no weights, not compiled; layer_names split into {split}.")


# --------------------------------------------------------------------------
# c. Keras 3 legacy h5
# --------------------------------------------------------------------------

def make_keras3():
    K = keras
    fresh_k3(SEED_SMALL)
    model = small_cnn(K)
    model.compile(optimizer=K.optimizers.Adam(), loss="binary_crossentropy",
                  metrics=["accuracy"])
    x, y = small_data(64, np.random.default_rng(SEED_DATA + 2))
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    model.save(path("keras3-adam-trained.h5"))
    note("keras3-adam-trained.h5",
         f"Keras {keras.__version__} (TensorFlow backend) functional small channels_first "
         "CNN, Adam + binary_crossentropy, trained 1 epoch, `model.save('x.h5')` "
         "(legacy h5 layout).")

    fresh_k3(SEED_SMALL)
    model = sequential_channels_last(K)
    model.compile(optimizer=K.optimizers.Adam(), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = small_data(64, np.random.default_rng(SEED_DATA + 4), channels_last=True, classes=3)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    model.save(path("keras3-sequential.h5"))
    note("keras3-sequential.h5",
         f"Keras {keras.__version__} Sequential channels_last (same layers as "
         "tfk-sequential-channels-last), Adam + categorical_crossentropy, trained 1 epoch.")

    # Keras 3's save_weights only accepts `.weights.h5`, and that writes the new
    # Keras 3 layout (layers/<name>/vars/0), not the legacy one: no fixture.
    probe = os.path.join(OUT, ".probe.weights.h5")
    model.save_weights(probe)
    with h5py.File(probe, "r") as f:
        legacy = "layer_names" in f.attrs
        top = sorted(f.keys())
    os.remove(probe)
    if legacy:
        raise SystemExit("Keras 3 now writes legacy .weights.h5: add a fixture for it")
    README.append(("(keras3-weights-only.weights.h5)",
                   "not made: Keras 3 `save_weights` requires `.weights.h5` and writes its "
                   f"new layout (top-level groups {top}, vars/0, vars/1 ...), not the "
                   "legacy layer_names/weight_names layout."))


# --------------------------------------------------------------------------
# d. Keras 2.2.4 layout, emulated with h5py
# --------------------------------------------------------------------------

def fixed(s):
    """A scalar fixed-length string as h5py 2.x wrote `bytes` (numpy S)."""
    return np.bytes_(s.encode("utf8") if isinstance(s, str) else s)


def fixed_list(items):
    """What h5py 2.x made of a list of bytes: np.asarray -> fixed-length S
    array of the longest item's size. An empty list becomes float64 (0,)."""
    return np.asarray([s.encode("utf8") for s in items])


def keras22_initializer(kind):
    if kind == "glorot_uniform":  # a VarianceScaling instance in 2.2.4
        return {"class_name": "VarianceScaling",
                "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                           "seed": None}}
    return {"class_name": "Zeros", "config": {}}


def keras22_model_config():
    """Model.get_config() of Keras 2.2.4 for the small channels_first CNN built
    with default layer names, key order as 2.2.4's get_config methods build it
    (base config first: name, trainable)."""
    def node(src):
        return [[[src, 0, 0, {}]]]
    regs = {"kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None}
    layers = [
        {"name": "input_1", "class_name": "InputLayer",
         "config": {"batch_input_shape": [None, 1, 8, 8], "dtype": "float32",
                    "sparse": False, "name": "input_1"},
         "inbound_nodes": []},
        {"name": "conv2d_1", "class_name": "Conv2D",
         "config": {"name": "conv2d_1", "trainable": True, "filters": 4,
                    "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
                    "data_format": "channels_first", "dilation_rate": [1, 1],
                    "activation": "relu", "use_bias": True,
                    "kernel_initializer": keras22_initializer("glorot_uniform"),
                    "bias_initializer": keras22_initializer("zeros"), **regs},
         "inbound_nodes": node("input_1")},
        {"name": "max_pooling2d_1", "class_name": "MaxPooling2D",
         "config": {"name": "max_pooling2d_1", "trainable": True, "pool_size": [2, 2],
                    "padding": "valid", "strides": [2, 2],
                    "data_format": "channels_first"},
         "inbound_nodes": node("conv2d_1")},
        # Flatten() with no argument takes image_data_format(): channels_last.
        {"name": "flatten_1", "class_name": "Flatten",
         "config": {"name": "flatten_1", "trainable": True,
                    "data_format": "channels_last"},
         "inbound_nodes": node("max_pooling2d_1")},
        {"name": "dense_1", "class_name": "Dense",
         "config": {"name": "dense_1", "trainable": True, "units": 2,
                    "activation": "linear", "use_bias": True,
                    "kernel_initializer": keras22_initializer("glorot_uniform"),
                    "bias_initializer": keras22_initializer("zeros"), **regs},
         "inbound_nodes": node("flatten_1")},
        {"name": "activation_1", "class_name": "Activation",
         "config": {"name": "activation_1", "trainable": True, "activation": "softmax"},
         "inbound_nodes": node("dense_1")},
    ]
    return {"class_name": "Model",
            "config": {"name": "model_1", "layers": layers,
                       "input_layers": [["input_1", 0, 0]],
                       "output_layers": [["activation_1", 0, 0]]}}


def make_keras22():
    """keras/engine/saving.py::_serialize_model of Keras 2.2.4, step by step,
    with h5py 2.x's string behaviour (bytes -> fixed-length). Weights and
    Adam state are the real numbers of tfk-adam-trained.h5."""
    f32 = lambda v: float(np.float32(v))  # noqa: E731  get_value of a float32 variable
    with h5py.File(path("tfk-adam-trained.h5"), "r") as src:
        mw, ow = src["model_weights"], src["optimizer_weights"]
        weights = {  # 2.2.4 layer name -> [(2.2.4 weight name, value)]
            "conv2d_1": [("conv2d_1/kernel:0", mw["conv2d/conv2d/kernel:0"][()]),
                         ("conv2d_1/bias:0", mw["conv2d/conv2d/bias:0"][()])],
            "dense_1": [("dense_1/kernel:0", mw["dense/dense/kernel:0"][()]),
                        ("dense_1/bias:0", mw["dense/dense/bias:0"][()])],
        }
        params = ["conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias"]
        iterations = np.int64(ow["iteration:0"][()])
        ms = [ow[f"Adam/m/{p}:0"][()] for p in params]
        vs = [ow[f"Adam/v/{p}:0"][()] for p in params]

    cfg = keras22_model_config()
    layer_names = [l["name"] for l in cfg["config"]["layers"]]
    with h5py.File(path("keras22-adam.h5"), "w") as f:
        # f['keras_version'] = str(keras_version).encode('utf8'), etc.
        f.attrs["keras_version"] = fixed("2.2.4")
        f.attrs["backend"] = fixed("tensorflow")
        f.attrs["model_config"] = fixed(json.dumps(cfg))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = fixed_list(layer_names)
        g.attrs["backend"] = fixed("tensorflow")
        g.attrs["keras_version"] = fixed("2.2.4")
        for name in layer_names:
            lg = g.create_group(name)
            lw = weights.get(name, [])
            lg.attrs["weight_names"] = fixed_list([n for n, _ in lw])  # [] -> float64 (0,)
            for n, v in lw:
                lg.create_dataset(n, v.shape, dtype=v.dtype)[...] = v
        # Adam.get_config() of 2.2.4: float(K.get_value(...)) of float32
        # variables, epsilon=None replaced by K.epsilon() = 1e-7.
        f.attrs["training_config"] = fixed(json.dumps({
            "optimizer_config": {"class_name": "Adam",
                                 "config": {"lr": f32(0.001), "beta_1": f32(0.9),
                                            "beta_2": f32(0.999), "decay": 0.0,
                                            "epsilon": 1e-07, "amsgrad": False}},
            "loss": "binary_crossentropy",
            "metrics": ["accuracy"],
            "sample_weight_mode": None,
            "loss_weights": None,
        }))
        # Adam.get_updates: weights = [iterations] + ms + vs + vhats; without
        # amsgrad each vhat is K.zeros(1), shape (1,). Unnamed variables made
        # under name scope training/Adam get Variable, Variable_1, ...
        values = [iterations] + ms + vs + [np.zeros(1, np.float32) for _ in params]
        names = ["Adam/iterations:0"] + [
            "training/Adam/Variable:0" if i == 0 else f"training/Adam/Variable_{i}:0"
            for i in range(len(values) - 1)]
        og = f.create_group("optimizer_weights")
        og.attrs["weight_names"] = fixed_list(names)
        for n, v in zip(names, values):
            d = og.create_dataset(n, np.shape(v), dtype=np.asarray(v).dtype)
            d[()] = v
    note("keras22-adam.h5",
         "EMULATION (no Python 3.11 runs Keras 2.2): written with h5py following Keras "
         "2.2.4's engine/saving.py and optimizers.py line by line, with h5py 2.x string "
         "rules (fixed-length ASCII strings, NULLPAD); model_config in 2.2 dialect "
         "(class_name Model, batch_input_shape, list inbound_nodes); Adam state as "
         "Adam/iterations:0 + training/Adam/Variable_N:0 (4 m, 4 v, 4 vhat of shape (1,)); "
         "weights and m/v are the real values of tfk-adam-trained.h5.")


# --------------------------------------------------------------------------
# e. Training references
# --------------------------------------------------------------------------

TRAIN_N, TRAIN_BATCH = 256, 64


def make_training_refs():
    K = tf_keras
    x, y = small_data(TRAIN_N, np.random.default_rng(SEED_DATA))
    write_arrays("train-data.h5", x=x, y=y)
    note("train-data.h5", f"`x` ({TRAIN_N},1,8,8) float32 uniform [0,1], `y` ({TRAIN_N},2) "
         "one-hot (class 1 when the left half is brighter).")
    losses = {}

    cases = [
        ("adam", lambda: K.optimizers.Adam(learning_rate=1e-3), "binary_crossentropy"),
        ("sgd", lambda: K.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
         "binary_crossentropy"),
        ("adam-cce", lambda: K.optimizers.Adam(learning_rate=1e-3), "categorical_crossentropy"),
        ("adam-mse", lambda: K.optimizers.Adam(learning_rate=1e-3), "mean_squared_error"),
    ]
    for tag, opt, loss in cases:
        fresh_tfk(SEED_TRAIN)  # same initial weights for every case
        model = small_cnn(K)
        model.compile(optimizer=opt(), loss=loss, metrics=["accuracy"])
        model.save(path(f"train-start-{tag}.h5"), save_format="h5")
        hist = model.fit(x, y, batch_size=TRAIN_BATCH, epochs=1, shuffle=False, verbose=0)
        model.save(path(f"train-after-{tag}.h5"), save_format="h5")
        losses[tag] = float(hist.history["loss"][0])
        set_root_attr(f"train-after-{tag}.h5", "reference_epoch_loss", losses[tag])
        reloaded = K.models.load_model(path(f"train-after-{tag}.h5"))
        assert int(reloaded.optimizer.iterations.numpy()) == TRAIN_N // TRAIN_BATCH
        note(f"train-start-{tag}.h5", f"small channels_first CNN (seed {SEED_TRAIN}), "
             f"compiled {opt().__class__.__name__} + {loss}, untrained.")
        note(f"train-after-{tag}.h5", f"train-start-{tag}.h5 after tf-keras `fit(x, y, "
             f"batch_size={TRAIN_BATCH}, epochs=1, shuffle=False)` on train-data.h5; root "
             f"attr reference_epoch_loss = {losses[tag]!r}.")

    # Issue 4: Keras's own checkpoint, and Keras's continued training from it.
    fresh_tfk(SEED_TRAIN)
    model = small_cnn(K)
    model.compile(optimizer=K.optimizers.Adam(learning_rate=1e-3),
                  loss="binary_crossentropy", metrics=["accuracy"])
    h1 = model.fit(x, y, batch_size=TRAIN_BATCH, epochs=1, shuffle=False, verbose=0)
    model.save(path("keras-resume-epoch1.h5"), save_format="h5")
    set_root_attr("keras-resume-epoch1.h5", "reference_epoch_loss", h1.history["loss"][0])
    h2 = model.fit(x, y, batch_size=TRAIN_BATCH, epochs=2, initial_epoch=1,
                   shuffle=False, verbose=0)
    model.save(path("keras-resume-epoch2.h5"), save_format="h5")
    set_root_attr("keras-resume-epoch2.h5", "reference_epoch_loss", h2.history["loss"][0])
    losses["resume-epoch1"] = float(h1.history["loss"][0])
    losses["resume-epoch2"] = float(h2.history["loss"][0])

    # Sanity: load_model(epoch1) + one more epoch gives epoch2 (what Relapse must match).
    again = K.models.load_model(path("keras-resume-epoch1.h5"))
    h3 = again.fit(x, y, batch_size=TRAIN_BATCH, epochs=2, initial_epoch=1,
                   shuffle=False, verbose=0)
    diff = max(float(np.max(np.abs(a - b)))
               for a, b in zip(again.get_weights(), model.get_weights()))
    losses["resume-reload-max-weight-diff"] = diff
    losses["resume-reload-epoch2-loss"] = float(h3.history["loss"][0])
    note("keras-resume-epoch1.h5", "tf-keras small CNN (train-start-adam weights), Adam "
         f"lr 1e-3 + BCE, 1 epoch on train-data.h5 (batch {TRAIN_BATCH}, no shuffle); "
         f"reference_epoch_loss = {losses['resume-epoch1']!r}.")
    note("keras-resume-epoch2.h5", "the same model object trained one more epoch "
         f"(initial_epoch=1); reference_epoch_loss = {losses['resume-epoch2']!r}. "
         "load_model(epoch1) + 1 epoch reproduces it (max weight diff "
         f"{diff:.3g}).")
    return losses


# --------------------------------------------------------------------------
# e. Loss references
# --------------------------------------------------------------------------

EPS = 1e-7


def softmax_np(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_vjp(p, g):
    """Gradient w.r.t. logits given gradient g w.r.t. p = softmax(logits)."""
    return p * (g - (g * p).sum(axis=-1, keepdims=True))


def clip_mask(p, lo, hi):
    # tf.clip_by_value's gradient passes where lo <= p <= hi (bounds included).
    return ((p >= lo) & (p <= hi)).astype(np.float64)


def keras22_bce(y, p32):
    """Keras 2.2.4 tensorflow_backend.binary_crossentropy (from_logits=False):
    clip to [eps, 1-eps] (float32 bounds), z = log(p/(1-p)),
    sigmoid_cross_entropy_with_logits, mean over the last axis. float64 math."""
    lo, hi = float(np.float32(EPS)), float(np.float32(1 - EPS))
    p = np.clip(p32.astype(np.float64), lo, hi)
    z = np.log(p / (1 - p))
    per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    k = p.shape[-1]
    loss = per.mean(axis=-1)
    # dL/dz = (sigmoid(z) - y)/k = (p - y)/k ; dz/dp = 1/(p(1-p))
    grad_p = (p - y) / (p * (1 - p)) / k * clip_mask(p32.astype(np.float64), lo, hi)
    return loss, grad_p


def keras22_cce(y, p32):
    """Keras 2.2.4 categorical_crossentropy: p /= sum(p); clip; -sum y log p."""
    lo, hi = float(np.float32(EPS)), float(np.float32(1 - EPS))
    q = p32.astype(np.float64)
    s = q.sum(axis=-1, keepdims=True)
    n = q / s
    c = np.clip(n, lo, hi)
    loss = -(y * np.log(c)).sum(axis=-1)
    g_n = -y / c * clip_mask(n, lo, hi)
    # n = q / s: dn_i/dq_j = (delta_ij - n_i) / s
    grad_p = (g_n - (g_n * n).sum(axis=-1, keepdims=True)) / s
    return loss, grad_p


def keras3_jax_bce(y, p32):
    """Keras 3 on JAX/PyTorch (formula from issue 3): clip, -(y log p + (1-y) log(1-p))."""
    lo, hi = float(np.float32(EPS)), float(np.float32(1 - EPS))
    q = p32.astype(np.float64)
    p = np.clip(q, lo, hi)
    k = p.shape[-1]
    loss = (-(y * np.log(p) + (1 - y) * np.log(1 - p))).mean(axis=-1)
    grad_p = (-(y / p) + (1 - y) / (1 - p)) / k * clip_mask(q, lo, hi)
    return loss, grad_p


def loss_batches():
    rng = np.random.default_rng(SEED_DATA + 9)
    b = {}
    z = rng.normal(0, 2, (8, 2)).astype(np.float32)
    b["k2_random"] = (z, np.eye(2, dtype=np.float32)[rng.integers(0, 2, 8)])
    # Saturated: logit differences around and past the point where the softmax
    # output reaches the 1e-7 / 1 - 1e-7 clip; labels both right and wrong.
    d = np.array([10, 14, 15, 15.5, 16, 16.2, 17, 20, 30, 60, 100], np.float32)
    z = np.stack([d / 2, -d / 2], axis=1).astype(np.float32)
    z = np.concatenate([z, -z]).astype(np.float32)
    y = np.tile(np.array([[1, 0], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1],
                          [1, 0], [0, 1], [1, 0], [0, 1]], np.float32), (2, 1))
    b["k2_saturated"] = (z, y)
    z = rng.normal(0, 3, (8, 3)).astype(np.float32)
    z[6] = [40, 0, -40]
    z[7] = [-25, 25, 0]
    b["k3_random"] = (z, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)])
    z = rng.normal(0, 1, (6, 2)).astype(np.float32)
    yy = rng.uniform(0, 1, (6, 1)).astype(np.float32)
    b["k2_soft_labels"] = (z, np.concatenate([yy, 1 - yy], axis=1))
    return b


def tf_losses(module, fn_name, shortcut_layer, z, y):
    """Per-sample loss and gradients of fn(y, p), p = softmax(z).
    shortcut: p comes from the framework's Activation('softmax') layer, which
    caches the logits on the output tensor (the logits shortcut may apply).
    plain: p = tf.nn.softmax(z) in eager mode (no cached logits, and eager
    tensors have no op type to look at): the loss sees probabilities only."""
    fn = getattr(module.losses, fn_name)
    zt, yt = tf.constant(z), tf.constant(y)
    out = {}
    with tf.GradientTape() as tape:
        tape.watch(zt)
        p = shortcut_layer(zt)
        loss = fn(yt, p)
        total = tf.reduce_sum(loss)  # inside the tape, or there is no gradient
    out["shortcut"] = (loss.numpy(), tape.gradient(total, zt).numpy(), None)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        p = tf.nn.softmax(zt)
        pc = tf.identity(p)
        tape.watch(pc)
        loss = fn(yt, pc)
        total = tf.reduce_sum(loss)
    gp = tape.gradient(total, pc).numpy()
    gz = softmax_vjp(p.numpy().astype(np.float64), gp.astype(np.float64)).astype(np.float32)
    out["plain"] = (loss.numpy(), gz, gp)
    return out


def make_loss_reference():
    tfk_softmax = tf_keras.layers.Activation("softmax")
    k3_softmax = keras.layers.Activation("softmax")
    cases = []
    with h5py.File(path("loss-reference.h5"), "w") as f:
        for bname, (z, y) in loss_batches().items():
            g = f.create_group(bname)
            p = tf.nn.softmax(tf.constant(z)).numpy()
            g["logits"], g["probs"], g["y"] = z, p, y

            def put(case, loss, grad_logits=None, grad_probs=None, doc=""):
                # Keras results stay float32 as Keras computed them; the numpy
                # formulas (keras22_*, formula_*) are float64.
                g[f"{case}_loss"] = loss
                if grad_logits is not None:
                    g[f"{case}_grad_logits"] = grad_logits
                if grad_probs is not None:
                    g[f"{case}_grad_probs"] = grad_probs
                if case not in [c for c, _ in cases]:
                    cases.append((case, doc))

            for prefix, module, layer in (("tfkeras", tf_keras, tfk_softmax),
                                          ("keras3tf", keras, k3_softmax)):
                for short, fn in (("bce", "binary_crossentropy"),
                                  ("cce", "categorical_crossentropy"),
                                  ("mse", "mean_squared_error"),
                                  ("logcosh", "log_cosh" if module is keras else "logcosh")):
                    r = tf_losses(module, fn, layer, z, y)
                    if short in ("bce", "cce"):
                        put(f"{prefix}_{short}_shortcut", r["shortcut"][0], r["shortcut"][1],
                            doc=f"{module.__name__}.losses.{fn} on the output of "
                                "Activation('softmax') (cached logits used); grad w.r.t. logits")
                    put(f"{prefix}_{short}_plain", r["plain"][0], r["plain"][1], r["plain"][2],
                        doc=f"{module.__name__}.losses.{fn} on plain probabilities "
                            "(no cached logits); grads w.r.t. probs and, via softmax, logits")
            for case, fn, doc in (
                    ("keras22_bce", keras22_bce, "Keras 2.2.4 BCE: clip [1e-7,1-1e-7], "
                     "logit round trip, sigmoid CE, mean; numpy float64"),
                    ("keras22_cce", keras22_cce, "Keras 2.2.4 CCE: normalise, clip, "
                     "-sum y log p; numpy float64"),
                    ("formula_keras3_jax_bce", keras3_jax_bce, "Keras 3 JAX/PyTorch BCE "
                     "formula: clip, -(y log p + (1-y) log(1-p)), mean; numpy float64, "
                     "not run by Keras")):
                loss, gp = fn(y.astype(np.float64), p)
                put(case, loss, softmax_vjp(p.astype(np.float64), gp), gp, doc)
        f.attrs["batches"] = [n.encode() for n in loss_batches()]
        f.attrs["cases"] = [c.encode() for c, _ in cases]
        for c, doc in cases:
            f.attrs[f"doc_{c}"] = doc
        f.attrs["layout"] = ("each batch group holds logits (n,k), probs = softmax(logits) "
                             "float32, y; per case: <case>_loss (n,), <case>_grad_logits "
                             "(n,k) = d sum(loss) / d logits, <case>_grad_probs where the "
                             "loss is defined on probabilities")
    note("loss-reference.h5", "per-sample losses and gradients from real tf-keras "
         f"{tf_keras.__version__} and Keras {keras.__version__} (TF backend) on softmax "
         "batches incl. saturated ones, plus numpy Keras 2.2.4 formulas (keras22_*); "
         "root attrs `batches`, `cases`, `doc_<case>`, `layout`.")
    return cases


# --------------------------------------------------------------------------

def make_string_attributes():
    """Every form h5py writes a string attribute in, for the HDF5 layer's reader tests."""
    name = "string-attributes.h5"
    with h5py.File(path(name), "w") as f:
        a = f.attrs
        a["vlen_utf8_scalar"] = "caf\u00e9 \u2192 ok"                      # str
        a["vlen_ascii_scalar"] = b"plain bytes"                                # bytes
        a["fixed_ascii_scalar"] = np.bytes_(b"fixed")                         # numpy S scalar
        a["fixed_ascii_array"] = np.array([b"conv2d_1", b"dense_1"])         # numpy S array
        a["vlen_utf8_array"] = ["\u00fcber", "x"]                            # list of str
        a["vlen_ascii_array"] = [b"dense/kernel:0", b"dense/bias:0"]         # list of bytes
        a["empty_list"] = np.array([], dtype=np.float64)                      # h5py's empty list
        a.create("fixed_utf8_array", np.array(["\u00e9t\u00e9".encode(), b"a"]),
                 dtype=h5py.string_dtype("utf-8", 6))                          # fixed-length UTF-8
    note(name, "h5py attributes in every string form: variable-length UTF-8 and ASCII scalars "
         "and arrays, fixed-length ASCII scalar and array, fixed-length UTF-8 array, and an "
         "empty float64 array (h5py's empty list).")


def write_readme(losses):
    lines = ["# Fixtures", "",
             "Made by `tools/make_fixtures.py` (versions pinned in `tools/requirements.txt`: "
             f"tf-keras {tf_keras.__version__}, TensorFlow {tf.__version__}, "
             f"Keras {keras.__version__}, h5py {h5py.__version__}, numpy {np.__version__}). "
             "Rerun with `tools/setup_venv.sh && .venv/bin/python tools/make_fixtures.py`. "
             "float32 throughout. `tools/h5layout.py FILE --values` prints a file's layout.", ""]
    for name, text in README:
        lines.append(f"- `{name}`: {text}")
    lines += ["", "Reference epoch losses (tf-keras history['loss'], sample-weighted mean of "
              "batch losses):", ""]
    for k, v in losses.items():
        lines.append(f"- {k}: {v!r}")
    # Fixtures made by other tools/ scripts are described below this heading: kept as they are.
    others = ""
    if os.path.exists(path("README.md")):
        with open(path("README.md")) as f:
            text = f.read()
        marker = "\n## Made by other tools/ scripts\n"
        if marker in text:
            others = text[text.index(marker):]
    with open(path("README.md"), "w") as f:
        f.write("\n".join(lines) + "\n" + others)


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=OUT)
    OUT = ap.parse_args().out
    os.makedirs(OUT, exist_ok=True)
    make_seed_model()
    make_tfk_small()
    make_keras3()
    make_keras22()
    make_string_attributes()
    losses = make_training_refs()
    make_loss_reference()
    write_readme(losses)
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(path(name)):>10}  {name}")
    for k, v in losses.items():
        print(f"{k}: {v!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
