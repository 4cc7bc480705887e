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
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import tf_keras  # noqa: F401 - imported here so TensorFlow reads the environment set above
import keras  # noqa: F401

from model_parity import judge, parity_main



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


def checks(relapse, check):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(96, 8, 8, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=96)]
    judge(build, x, y, relapse, check, keras_loads_checkpoint=True)


def main():
    parity_main(checks)


if __name__ == "__main__":
    main()
