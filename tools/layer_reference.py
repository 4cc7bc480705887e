"""Real Keras numbers for BatchNormalization, the activations, the activation layers,
Rescaling and Normalization (issue 13), from tf-keras and Keras 3 (TensorFlow backend).

Writes
- fixtures/ref-layers.h5: one group per case (`tfk/<name>`, `k3/<name>`) with the layer's
  config as Keras serialises it (attribute `layer`: {"class_name", "config"} JSON), its weights
  before the call (`w0`, `w1`, ... in Keras's order), `x`, `r`, the output `y` of one call with
  training=True, `g` = d sum(r * y) / dx, the weight gradients `dw0`, ... (trainable weights,
  in order), and the weights after the call (`a0`, `a1`, ...: BatchNormalization's moving
  statistics after one update).
- fixtures/layers-fit-<tag>-start.h5 / -after.h5: a small CNN with every layer of the family,
  one epoch of `fit` on fixtures/train-data.h5 (batch 64, no shuffling); root attributes
  reference_epoch_loss and reference_predict (predict of x[:8] after the epoch).

Run: .venv/bin/python tools/layer_reference.py
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import h5py
import numpy as np
import tensorflow as tf
import tf_keras
import keras

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")

ACTIVATIONS = ["relu", "sigmoid", "softmax", "tanh", "linear", "elu", "selu", "softplus", "softsign", "swish",
               "silu", "gelu", "hard_sigmoid", "exponential", "mish", "relu6", "leaky_relu", "log_softmax"]
K3_ONLY = ["hard_silu", "hard_swish"]


def x_values(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-7, 7, size=shape).astype(np.float32)
    flat = x.reshape(-1)
    # Points near the kinks (hard_sigmoid's +-2.5 and +-3, relu6's 6, thresholds).
    special = [-3.01, -2.49, 2.51, 2.99, 5.99, 6.01, 0.49, 0.51, 1.01, -0.01, 0.01, 3.5]
    flat[: len(special)] = special[: flat.size]
    return x


def record(group, layer, x, K, weights=None, training=True):
    if not layer.built:
        layer.build(x.shape)
    if weights is not None:
        layer.set_weights(weights)
    w0 = [v.numpy() for v in layer.weights]
    xt = tf.constant(x)
    r = np.random.default_rng(5).uniform(-1, 1, size=x.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=training)
        s = tf.reduce_sum(tf.constant(r) * y)
    trainable = list(layer.trainable_weights)
    grads = tape.gradient(s, [xt] + trainable)
    group.attrs["layer"] = json.dumps({"class_name": layer.__class__.__name__, "config": layer.get_config()}, default=lambda o: o.tolist())
    group["x"], group["r"], group["y"], group["g"] = x, r, y.numpy(), grads[0].numpy()
    for i, w in enumerate(w0):
        group[f"w{i}"] = w
    for i, g in enumerate(grads[1:]):
        group[f"dw{i}"] = g.numpy()
    for i, v in enumerate(layer.weights):
        group[f"a{i}"] = v.numpy()


def bn_weights(c, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, c).astype(np.float32), rng.uniform(-0.5, 0.5, c).astype(np.float32),
            rng.uniform(-0.3, 0.3, c).astype(np.float32), rng.uniform(0.5, 2.0, c).astype(np.float32)]


def layer_cases(f, tag, K):
    L = K.layers
    g = f.create_group(tag)
    names = ACTIVATIONS + (K3_ONLY if K is keras else [])
    for name in names:
        record(g.create_group("act_" + name), L.Activation(name), x_values((3, 8), 1), K)
    slope = {"alpha": 0.1} if K is tf_keras else {"negative_slope": 0.1}
    layers = {
        "relu_all": L.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.5),
        "relu_max6": L.ReLU(max_value=6.0),
        "relu_slope": L.ReLU(negative_slope=0.2),
        "relu_threshold": L.ReLU(threshold=1.0),
        "relu_max3": L.ReLU(max_value=3.0),
        "leaky": L.LeakyReLU(**slope),
        "elu_half": L.ELU(alpha=0.5),
        "softmax_axis1": L.Softmax(axis=1),
        "softmax_last": L.Softmax(),
        "prelu": L.PReLU(alpha_initializer=K.initializers.RandomUniform(-0.5, 0.5, seed=3)),
        "prelu_shared": L.PReLU(shared_axes=[1], alpha_initializer=K.initializers.RandomUniform(-0.5, 0.5, seed=4)),
        "rescaling": L.Rescaling(1 / 255.0, offset=-0.5),
    }
    for name, layer in layers.items():
        record(g.create_group(name), layer, x_values((2, 3, 4), 2), K)
    norm = L.Normalization(axis=-1)
    norm.adapt(x_values((10, 3, 4), 3))
    record(g.create_group("normalization"), norm, x_values((2, 3, 4), 4), K)
    inv = L.Normalization(axis=None, invert=True)
    inv.adapt(x_values((10, 3, 4), 6))
    record(g.create_group("normalization_invert"), inv, x_values((2, 3, 4), 7), K)
    # BatchNormalization: 4-D channels last (tf.keras: fused), channels first (axis 1),
    # 2-D (never fused), frozen, no scale/center, and in inference mode.
    bx = x_values((4, 3, 5, 6), 8) * 0.3 + 1.0
    record(g.create_group("bn_nhwc"), L.BatchNormalization(momentum=0.9), bx, K, bn_weights(6, 1))
    record(g.create_group("bn_nchw"), L.BatchNormalization(axis=1, momentum=0.8, epsilon=1e-2), bx, K, bn_weights(3, 2))
    record(g.create_group("bn_2d"), L.BatchNormalization(momentum=0.9), bx.reshape(12, 30)[:, :7], K, bn_weights(7, 3))
    record(g.create_group("bn_frozen"), L.BatchNormalization(trainable=False), bx, K, bn_weights(6, 4))
    plain = bn_weights(6, 5)[2:]
    record(g.create_group("bn_plain"), L.BatchNormalization(center=False, scale=False), bx, K, plain)
    record(g.create_group("bn_inference"), L.BatchNormalization(axis=1), bx, K, bn_weights(3, 6), training=False)


def zoo(K, x):
    L = K.layers
    inp = K.Input(shape=(1, 8, 8))
    norm = L.Normalization(axis=None)
    norm.adapt(x)
    n = norm(inp)
    r = L.Rescaling(2.0, offset=-0.5)(n)
    # No bias before a BatchNormalization (as ResNet and MobileNet): its gradient is zero in exact
    # arithmetic, so Adam would step along float32 rounding noise, which no two programs share.
    a = L.Conv2D(4, 3, data_format="channels_first", use_bias=False)(r)
    a = L.BatchNormalization(axis=1)(a)
    a = L.ReLU(max_value=6.0)(a)
    a = L.Flatten(data_format="channels_first")(a)
    b = L.Reshape((8, 8, 1))(r)
    b = L.Conv2D(4, 3, use_bias=False)(b)
    b = L.BatchNormalization(momentum=0.9)(b)
    b = L.LeakyReLU()(b)
    b = L.Conv2D(3, 3)(b)
    frozen = L.BatchNormalization(trainable=False)
    b = frozen(b)
    b = L.ELU()(b)
    b = L.Flatten()(b)
    c = L.Concatenate()([a, b])
    c = L.Dense(8, activation="swish")(c)
    c = L.BatchNormalization(momentum=0.8)(c)
    c = L.PReLU()(c)
    c = L.Dense(6, activation="gelu")(c)
    c = L.Activation("selu")(c)
    out = L.Dense(2, activation="softmax")(c)
    model = K.Model(inp, out)
    frozen.set_weights(bn_weights(3, 9))
    return model


def fit_fixtures():
    with h5py.File(os.path.join(FIXTURES, "train-data.h5")) as f:
        x, y = f["x"][...], f["y"][...]
    results = {}
    for tag, K in [("tfk", tf_keras), ("k3", keras)]:
        K.utils.set_random_seed(11)
        model = zoo(K, x)
        model.compile(optimizer=K.optimizers.Adam(learning_rate=1e-2), loss="categorical_crossentropy")
        start = os.path.join(FIXTURES, f"layers-fit-{tag}-start.h5")
        after = os.path.join(FIXTURES, f"layers-fit-{tag}-after.h5")
        model.save(start)
        history = model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        model.save(after)
        pred = model.predict(x[:8], verbose=0)
        with h5py.File(after, "a") as f:
            f.attrs["reference_epoch_loss"] = np.float64(history.history["loss"][0])
            f.attrs["reference_predict"] = pred
        results[tag] = history.history["loss"][0]
    print("fit references:", results)


def main():
    with h5py.File(os.path.join(FIXTURES, "ref-layers.h5"), "w") as f:
        f.attrs["made_by"] = (f"tools/layer_reference.py: tf-keras {tf_keras.__version__}, Keras {keras.__version__}, "
                              f"TensorFlow {tf.__version__}")
        layer_cases(f, "tfk", tf_keras)
        layer_cases(f, "k3", keras)
    fit_fixtures()


if __name__ == "__main__":
    main()
