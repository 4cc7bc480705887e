#!/usr/bin/env python3
"""Makes the small new-format fixtures (issue 14) with real Keras 3.15 and tf-keras 2.21.

`adam`: the small channels_first CNN of tools/make_fixtures.py, Adam + binary_crossentropy,
trained one epoch on 64 samples of fixtures/train-data.h5 (batch 32, no shuffle), saved as
`.keras` and `.weights.h5` (keras3-adam.*, tfk-adam.*).

`nested`: a functional model calling a nested Sequential twice, which itself holds a nested
functional model, BatchNormalization and Dense (the saving library's `layers/sequential/layers/
functional/layers/dense` paths), Adam + categorical_crossentropy, trained one epoch on 64
seeded random samples (batch 32, no shuffle), saved as `.keras` (keras3-nested.keras,
tfk-nested.keras).

Larger files are made in CI by tools/keras3_formats.py.

usage: .venv/bin/python tools/make_keras3_fixtures.py [adam] [nested]   (default: both)
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402

from model_parity import nested_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "fixtures")


def small_cnn(K):
    inp = K.Input(shape=(1, 8, 8))
    x = K.layers.Conv2D(4, (3, 3), activation="relu", data_format="channels_first")(inp)
    x = K.layers.MaxPooling2D(data_format="channels_first")(x)
    x = K.layers.Flatten()(x)
    x = K.layers.Dense(2)(x)
    return K.Model(inp, K.layers.Activation("softmax")(x))


def make_adam():
    with h5py.File(os.path.join(FIX, "train-data.h5"), "r") as f:
        x, y = f["x"][:64], f["y"][:64]
    for K, prefix in ((keras, "keras3"), (tf_keras, "tfk")):
        K.utils.set_random_seed(7)
        model = small_cnn(K)
        model.compile(optimizer=K.optimizers.Adam(), loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.save(os.path.join(FIX, f"{prefix}-adam.keras"))
        model.save_weights(os.path.join(FIX, f"{prefix}-adam.weights.h5"))


def make_nested():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=64)]
    for K, prefix in ((keras, "keras3"), (tf_keras, "tfk")):
        K.utils.set_random_seed(7)
        model = nested_model(K)
        model.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.save(os.path.join(FIX, f"{prefix}-nested.keras"))


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["adam", "nested"]
    for name in chosen:
        {"adam": make_adam, "nested": make_nested}[name]()
