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
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
import numpy as np
import tf_keras  # noqa: F401 - imported here so TensorFlow reads the environment set above
import keras  # noqa: F401

from model_parity import judge, parity_main



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


def checks(relapse, check):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(128, 16, 16, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=128)]
    judge(build, x, y, relapse, check, predict_tolerance=1e-4,
          weights_label="every weight tensor (moving statistics included)", resume_holds=("moving_variance", 3))


def main():
    parity_main(checks)


if __name__ == "__main__":
    main()
