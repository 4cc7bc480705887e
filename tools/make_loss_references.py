#!/usr/bin/env python3
"""Per-loss reference values and gradients from real tf-keras and Keras 3 (TensorFlow backend),
written as Swift source: Tests/TrainingTests/LossKerasReferences.swift.

Each case evaluates one Keras loss class with one config on a small batch:
  - "plain": the loss sees a constant tensor (no cached logits); gradient w.r.t. that tensor;
  - "softmax"/"sigmoid": the loss sees keras's activation of `z`, which caches the logits the
    TensorFlow backends use; gradient w.r.t. `z`.
Recorded: per-sample losses (reduction "none"), the reduced value the config asks for, and the
gradient of that value. Also writes fixtures/loss-fit-*.h5 (make_fit_fixtures).
Run: .venv/bin/python tools/make_loss_references.py
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import tensorflow as tf
import tf_keras
import keras

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TrainingTests", "LossKerasReferences.swift")

Z = np.array([[2.0, -1.0, 0.5], [-3.0, 0.25, 1.5], [0.3, -0.2, 4.0]], np.float32)
SIG = (1 / (1 + np.exp(-Z.astype(np.float64)))).astype(np.float32)
SOFT = np.exp(Z - Z.max(1, keepdims=True)); SOFT = (SOFT / SOFT.sum(1, keepdims=True)).astype(np.float32)
ONE_HOT = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)
BINARY = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 1]], np.float32)
SPARSE = np.array([[0], [2], [1]], np.float32)
REAL = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7], [1.5, 1.0, 0.2]], np.float32)
COUNTS = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0], [1.0, 1.0, 0.0]], np.float32)
SIGNS = np.array([[1, -1, -1], [-1, 1, 1], [1, -1, 1]], np.float32)
SATURATED = np.array([[0.5, 1e-9, 0.5], [0.99999999, 1e-10, 0.3], [0.2, 0.3, 0.5]], np.float32)
SATURATED_CLASSES = np.array([[1], [0], [2]], np.float32)
DIST = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [0.2, 0.3, 0.5]], np.float32)

# (name, class, config, input kind, input, labels)
CASES = [
    ("bce", "BinaryCrossentropy", {}, "plain", SIG, BINARY),
    ("bce-smoothing", "BinaryCrossentropy", {"label_smoothing": 0.2}, "plain", SIG, BINARY),
    ("bce-sum", "BinaryCrossentropy", {"reduction": "sum"}, "plain", SIG, BINARY),
    ("bce-logits", "BinaryCrossentropy", {"from_logits": True}, "plain", Z, BINARY),
    ("bce-logits-smoothing", "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "plain", Z, BINARY),
    ("bce-after-sigmoid", "BinaryCrossentropy", {}, "sigmoid", Z, BINARY),
    ("bce-after-softmax", "BinaryCrossentropy", {}, "softmax", Z, BINARY),
    ("bce-after-sigmoid-logits", "BinaryCrossentropy", {"from_logits": True}, "sigmoid", Z, BINARY),
    ("cce", "CategoricalCrossentropy", {}, "plain", SOFT, ONE_HOT),
    ("cce-unnormalised", "CategoricalCrossentropy", {}, "plain", SIG, ONE_HOT),
    ("cce-smoothing", "CategoricalCrossentropy", {"label_smoothing": 0.1}, "plain", SOFT, ONE_HOT),
    ("cce-sum", "CategoricalCrossentropy", {"reduction": "sum"}, "plain", SOFT, ONE_HOT),
    ("cce-logits", "CategoricalCrossentropy", {"from_logits": True}, "plain", Z, ONE_HOT),
    ("cce-logits-smoothing", "CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "plain", Z, ONE_HOT),
    ("cce-after-softmax", "CategoricalCrossentropy", {}, "softmax", Z, ONE_HOT),
    ("cce-after-softmax-smoothing", "CategoricalCrossentropy", {"label_smoothing": 0.1}, "softmax", Z, ONE_HOT),
    ("cce-after-sigmoid", "CategoricalCrossentropy", {}, "sigmoid", Z, ONE_HOT),
    ("sparse", "SparseCategoricalCrossentropy", {}, "plain", SOFT, SPARSE),
    ("sparse-unnormalised", "SparseCategoricalCrossentropy", {}, "plain", SIG, SPARSE),
    ("sparse-sum", "SparseCategoricalCrossentropy", {"reduction": "sum"}, "plain", SOFT, SPARSE),
    ("sparse-saturated", "SparseCategoricalCrossentropy", {}, "plain", SATURATED, SATURATED_CLASSES),
    ("cce-saturated", "CategoricalCrossentropy", {}, "plain", SATURATED, ONE_HOT),
    ("sparse-logits", "SparseCategoricalCrossentropy", {"from_logits": True}, "plain", Z, SPARSE),
    ("sparse-after-softmax", "SparseCategoricalCrossentropy", {}, "softmax", Z, SPARSE),
    ("sparse-after-sigmoid", "SparseCategoricalCrossentropy", {}, "sigmoid", Z, SPARSE),
    ("mse", "MeanSquaredError", {}, "plain", Z, REAL),
    ("mse-sum", "MeanSquaredError", {"reduction": "sum"}, "plain", Z, REAL),
    ("mae", "MeanAbsoluteError", {}, "plain", Z, REAL),
    ("mape", "MeanAbsolutePercentageError", {}, "plain", Z, REAL),
    ("msle", "MeanSquaredLogarithmicError", {}, "plain", Z, COUNTS),
    ("huber", "Huber", {}, "plain", Z, REAL),
    ("huber-delta", "Huber", {"delta": 0.5}, "plain", Z, REAL),
    ("hinge-01", "Hinge", {}, "plain", Z, BINARY),
    ("hinge-signs", "Hinge", {}, "plain", Z, SIGNS),
    ("hinge-real", "Hinge", {}, "plain", Z, REAL),
    ("squared-hinge-01", "SquaredHinge", {}, "plain", Z, BINARY),
    ("squared-hinge-real", "SquaredHinge", {}, "plain", Z, REAL),
    ("categorical-hinge", "CategoricalHinge", {}, "plain", Z, ONE_HOT),
    ("kld", "KLDivergence", {}, "plain", SOFT, DIST),
    ("kld-outside", "KLDivergence", {}, "plain", Z, DIST),
    ("poisson", "Poisson", {}, "plain", SIG, COUNTS),
    ("log-cosh", "LogCosh", {}, "plain", Z, REAL),
    ("log-cosh-sum", "LogCosh", {"reduction": "sum"}, "plain", Z, REAL),
]


def evaluate(module, class_name, config, kind, x, labels):
    cls = getattr(module.losses, class_name)
    per = cls(**{**config, "reduction": "none"})
    reduced = cls(**config)
    var = tf.Variable(x)
    y = tf.constant(labels)
    with tf.GradientTape() as tape:
        if kind == "plain":
            out = tf.identity(var)
        else:
            out = getattr(module.activations, kind)(var)
        per_sample = per(y, out)
        value = reduced(y, out)
    gradient = tape.gradient(value, var)
    return per_sample.numpy().reshape(-1), float(value.numpy()), gradient.numpy().reshape(-1)


def swift_floats(values):
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def make_fit_fixtures():
    """One epoch of real `fit` on fixtures/train-data.h5 (batch 64, no shuffling) with loss
    options that a bare loss name would lose. Writes fixtures/loss-fit-<tag>-start.h5 and
    -after.h5; the after file's root attribute reference_epoch_loss is history["loss"][0]."""
    import h5py
    with h5py.File(os.path.join(FIXTURES, "train-data.h5")) as f:
        x, y = f["x"][...], f["y"][...]
    sparse = np.argmax(y, axis=1).astype(np.float32)
    cases = [
        # tf-keras: linear output, CategoricalCrossentropy(from_logits, label_smoothing, sum), weight 0.5.
        ("tfk-cce-logits", tf_keras, None,
         lambda K: K.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum"), [0.5], y),
        # Keras 3: softmax output, sparse labels of shape (n,), loss weight 2.
        ("k3-sparse", keras, "softmax", lambda K: "sparse_categorical_crossentropy", 2.0, sparse),
    ]
    results = {}
    for tag, K, activation, loss, weights, labels in cases:
        K.utils.set_random_seed(7)
        model = K.Sequential([K.Input(shape=(1, 8, 8)), K.layers.Flatten(), K.layers.Dense(2, activation=activation)])
        model.compile(optimizer=K.optimizers.Adam(learning_rate=1e-2), loss=loss(K), loss_weights=weights)
        start = os.path.join(FIXTURES, f"loss-fit-{tag}-start.h5")
        after = os.path.join(FIXTURES, f"loss-fit-{tag}-after.h5")
        model.save(start)
        history = model.fit(x, labels, batch_size=64, epochs=1, shuffle=False, verbose=0)
        model.save(after)
        with h5py.File(after, "a") as f:
            f.attrs["reference_epoch_loss"] = np.float64(history.history["loss"][0])
        results[tag] = history.history["loss"][0]
    print("fit references:", results)


def main():
    lines = [
        "// Generated by tools/make_loss_references.py from real tf-keras "
        f"{tf_keras.__version__} and Keras {keras.__version__} (TensorFlow {tf.__version__} backend). Do not edit.",
        "",
        "/// One Keras loss class evaluated by real Keras: per-sample losses (reduction \"none\"), the",
        "/// reduced value of `config`, and its gradient w.r.t. the input (\"plain\") or w.r.t. the logits",
        "/// `input` of a softmax/sigmoid activation (which TensorFlow-backed Keras caches).",
        "struct KerasLossReference {",
        "    let name: String",
        "    let semantics: String",
        "    let config: String",
        "    let kind: String",
        "    let input: [Float]",
        "    let labels: [Float]",
        "    let perSample: [Double]",
        "    let value: Double",
        "    let gradient: [Double]",
        "}",
        "",
        "enum LossKerasReferences {",
        "    static let shape = [3, 3]",
        "    static let cases: [KerasLossReference] = [",
    ]
    for semantics, module in [("tf.keras", tf_keras), ("keras3-tensorflow", keras)]:
        for name, class_name, config, kind, x, labels in CASES:
            per, value, grad = evaluate(module, class_name, config, kind, x, labels)
            entry = json.dumps({"class_name": class_name, "config": config})
            lines.append(f"        KerasLossReference(name: {json.dumps(name)}, semantics: {json.dumps(semantics)},")
            lines.append(f"            config: {json.dumps(entry)}, kind: {json.dumps(kind)},")
            lines.append(f"            input: {swift_floats(x.reshape(-1))}, labels: {swift_floats(labels.reshape(-1))},")
            lines.append(f"            perSample: {swift_floats(per)}, value: {value!r},")
            lines.append(f"            gradient: {swift_floats(grad)}),")
    lines += ["    ]", "}", ""]
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {len(CASES) * 2} cases to {os.path.normpath(OUT)}")
    make_fit_fixtures()


if __name__ == "__main__":
    main()
