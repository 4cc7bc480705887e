#!/usr/bin/env python3
"""The second benchmark model of tools/bench.sh (MODEL=resnet): a CIFAR-10-sized ResNet built by
real tf-keras, its data, and the same network in PyTorch.

The architecture is He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016),
section 4.2: a 3x3 convolution with 16 filters, then three stages of `blocks` basic blocks with
16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps (6 * blocks + 2 layers with weights: blocks=3
is ResNet-20), global average pooling and a 10-way softmax. Each block is
conv3x3-BN-ReLU-conv3x3-BN, added to its shortcut, then ReLU; the first block of stages 2 and 3
has stride 2 and a 1x1 stride-2 projection (convolution + BN) as its shortcut (the paper's
option B). Convolutions have no bias (BN follows each). Channels last, Adam (tf-keras's
defaults), categorical cross-entropy on one-hot labels.

usage: resnet_bench.py make DIR SAMPLES [--blocks N]
    writes DIR/model.h5 (tf-keras model.save: architecture, weights, compiled Adam) and
    DIR/data.h5 (x: SAMPLES random 32x32x3 images in [0, 1), y: one-hot labels of 10 classes)
The PyTorch side (`torch_resnet`) is used by tools/bench_keras.py.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import h5py
import numpy as np

STAGES = (16, 32, 64)
CLASSES = 10


def keras_resnet(blocks):
    import tf_keras as K

    L = K.layers

    def conv_bn(x, filters, kernel, stride, name):
        x = L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name + "_conv")(x)
        return L.BatchNormalization(name=name + "_bn")(x)

    inp = K.Input(shape=(32, 32, 3))
    x = L.Activation("relu")(conv_bn(inp, STAGES[0], 3, 1, "stem"))
    for stage, filters in enumerate(STAGES):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"stage{stage + 1}_block{block + 1}"
            y = L.Activation("relu")(conv_bn(x, filters, 3, stride, name + "_a"))
            y = conv_bn(y, filters, 3, 1, name + "_b")
            shortcut = conv_bn(x, filters, 1, stride, name + "_projection") if stride != 1 else x
            x = L.Activation("relu")(L.Add()([y, shortcut]))
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(CLASSES, activation="softmax", name="classifier")(x)
    model = K.Model(inp, out)
    model.compile(optimizer=K.optimizers.Adam(), loss="categorical_crossentropy")
    return model


def make(folder, samples, blocks):
    import tf_keras as K

    K.utils.set_random_seed(1)
    keras_resnet(blocks).save(os.path.join(folder, "model.h5"))
    rng = np.random.default_rng(2)
    x = rng.random((samples, 32, 32, 3), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, samples)]
    with h5py.File(os.path.join(folder, "data.h5"), "w") as f:
        f["x"], f["y"] = x, y


def torch_resnet(model_path):
    """The same network in PyTorch (NCHW), every weight and moving statistic copied from the
    Keras file, BN with Keras's epsilon (1e-3) and momentum (0.99, PyTorch's 0.01). One
    difference that costs nothing: TensorFlow's `same` padding of a stride-2 3x3 convolution on
    an even size pads only after (bottom/right), PyTorch's padding=1 on both sides; the
    arithmetic per output is the same."""
    import json
    import torch
    from torch import nn

    with h5py.File(model_path, "r") as f:
        config = json.loads(f.attrs["model_config"])["config"]
        weights = {}
        for layer in config["layers"]:
            name = layer["config"]["name"]
            group = f["model_weights"].get(name)
            if group is None:
                continue
            arrays = {}
            group.visititems(lambda key, node: arrays.update({key.split("/")[-1].split(":")[0]: np.asarray(node)})
                             if isinstance(node, h5py.Dataset) else None)
            if arrays:
                weights[name] = arrays

    def copy(module, arrays):
        with torch.no_grad():
            if isinstance(module, nn.Conv2d):
                module.weight.copy_(torch.from_numpy(arrays["kernel"].transpose(3, 2, 0, 1).copy()))
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.from_numpy(arrays["gamma"]))
                module.bias.copy_(torch.from_numpy(arrays["beta"]))
                module.running_mean.copy_(torch.from_numpy(arrays["moving_mean"]))
                module.running_var.copy_(torch.from_numpy(arrays["moving_variance"]))
            else:
                module.weight.copy_(torch.from_numpy(arrays["kernel"].T.copy()))
                module.bias.copy_(torch.from_numpy(arrays["bias"]))
        return module

    taken = set()

    def conv_bn(cin, cout, kernel, stride, name):
        taken.update((name + "_conv", name + "_bn"))
        conv = copy(nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), weights[name + "_conv"])
        bn = copy(nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01), weights[name + "_bn"])
        return nn.Sequential(conv, bn)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, name):
            super().__init__()
            self.a = conv_bn(cin, cout, 3, stride, name + "_a")
            self.b = conv_bn(cout, cout, 3, 1, name + "_b")
            self.shortcut = conv_bn(cin, cout, 1, stride, name + "_projection") if stride != 1 else nn.Identity()

        def forward(self, x):
            return torch.relu(self.b(torch.relu(self.a(x))) + self.shortcut(x))

    blocks = sum(1 for name in weights if name.startswith("stage1_") and name.endswith("_a_conv"))
    layers = [conv_bn(3, STAGES[0], 3, 1, "stem"), nn.ReLU()]
    cin = STAGES[0]
    for stage, filters in enumerate(STAGES):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(Block(cin, filters, stride, f"stage{stage + 1}_block{block + 1}"))
            cin = filters
    taken.add("classifier")
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), copy(nn.Linear(cin, CLASSES), weights["classifier"])]
    assert taken == set(weights), f"layers of the Keras file not built: {sorted(set(weights) - taken)}"
    # Softmax stays in the loss (cross-entropy of logits), as tf-keras computes it from logits too.
    return nn.Sequential(*layers)


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "make":
        sys.exit(__doc__)
    blocks = int(sys.argv[sys.argv.index("--blocks") + 1]) if "--blocks" in sys.argv else 3
    make(sys.argv[2], int(sys.argv[3]), blocks)
