"""Reference numbers for Tests/TrainingTests (optimizers and learning-rate schedules), from real
tf-keras 2.21 and Keras 3.15 (TensorFlow backend) on CPU. Prints JSON.

Every optimizer runs the three steps of OptimizerFixture.swift through `apply_gradients`:

    w = [0.5, -1.25, 2.0, 0.0], b = [0.1, -0.3]; three (gw, gb) pairs (GRADS below)

and reports the weights, the optimizer's variables (names and values) after the three steps.
Schedules are evaluated at the steps listed in STEPS.

    .venv/bin/python tools/optimizer_reference.py > /tmp/optimizer_reference.json
    .venv/bin/python tools/optimizer_reference.py --swift > Tests/TrainingTests/OptimizerReference.swift

Keras 2.2 cannot run here (no Python 3.11 build); its Adagrad, Adadelta, Adamax and Nadam are
EMULATED in numpy float32 following keras/optimizers.py 2.2.4 line by line (`keras22_*` below),
as fixtures/keras22-adam.h5 emulates its file layout.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import tf_keras
import keras

GRADS = [
    ([0.1, -0.2, 0.3, 1e-4], [0.5, -0.05]),
    ([-0.3, 0.25, 0.0, 2.0], [0.0, 1.5]),
    ([0.7, -0.01, -0.4, 3.0], [-2.0, 0.02]),
]

CASES = {
    "adagrad": ("Adagrad", {}),
    "adagrad_lr": ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3}),
    "adadelta": ("Adadelta", {"learning_rate": 1.0}),
    "adadelta_rho": ("Adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-6}),
    "adamax": ("Adamax", {}),
    "adamax_lr": ("Adamax", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95}),
    "nadam": ("Nadam", {}),
    "nadam_lr": ("Nadam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99}),
    "adamw": ("AdamW", {}),
    "adamw_ams": ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    "adam_weight_decay": ("Adam", {"learning_rate": 0.01, "weight_decay": 0.05}),
    "sgd_global_clipnorm": ("SGD", {"learning_rate": 0.1, "global_clipnorm": 0.5}),
    "sgd_clipnorm": ("SGD", {"learning_rate": 0.1, "clipnorm": 0.5}),
    "sgd_clipvalue": ("SGD", {"learning_rate": 0.1, "clipvalue": 0.25}),
    "sgd_exp_decay": ("SGD", {"learning_rate": ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5})}),
    "adam_cosine": ("Adam", {"learning_rate": ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 4, "alpha": 0.1})}),
}

SCHEDULES = {
    "exp": ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.9}),
    "exp_stair": ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.9, "staircase": True}),
    "piecewise": ("PiecewiseConstantDecay", {"boundaries": [2, 5], "values": [0.1, 0.05, 0.01]}),
    "inverse": ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}),
    "inverse_stair": ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}),
    "cosine": ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "alpha": 0.2}),
    "cosine_warmup": ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 7, "alpha": 0.1, "warmup_target": 0.1, "warmup_steps": 3}),
}
STEPS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 100, 1000]


def build(lib, class_name, kwargs):
    kwargs = dict(kwargs)
    lr = kwargs.get("learning_rate")
    if isinstance(lr, tuple):
        kwargs["learning_rate"] = getattr(lib.optimizers.schedules, lr[0])(**lr[1])
    return getattr(lib.optimizers, class_name)(**kwargs)


def run(lib, class_name, kwargs):
    opt = build(lib, class_name, kwargs)
    w = tf.Variable(np.array([0.5, -1.25, 2.0, 0.0], np.float32), name="w")
    b = tf.Variable(np.array([0.1, -0.3], np.float32), name="b")
    if lib is keras:
        w, b = keras.Variable(w.numpy(), name="w"), keras.Variable(b.numpy(), name="b")
    for gw, gb in GRADS:
        opt.apply_gradients([(tf.constant(gw, tf.float32), w), (tf.constant(gb, tf.float32), b)])
    variables = [(v.path if hasattr(v, "path") else v.name, np.asarray(v.numpy()).tolist()) for v in opt.variables]
    extra = {}
    if hasattr(opt, "_u_product"):
        extra["u_product"] = float(np.asarray(opt._u_product.numpy()))
    return {"w": np.asarray(w.numpy()).tolist(), "b": np.asarray(b.numpy()).tolist(),
            "variables": variables, "config": opt.get_config(), **extra}


def schedule_values(lib, class_name, kwargs):
    s = getattr(lib.optimizers.schedules, class_name)(**kwargs)
    return [float(np.float32(s(tf.constant(step, tf.int64)))) for step in STEPS], s.get_config()


def jsonable(x):
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


f32 = np.float32


def keras22(name):
    """keras/optimizers.py 2.2.4 get_updates in float32 (K.variable hyperparameters are float32)."""
    w = [np.array([0.5, -1.25, 2.0, 0.0], f32), np.array([0.1, -0.3], f32)]
    s1 = [np.zeros_like(x) for x in w]
    s2 = [np.zeros_like(x) for x in w]
    m_schedule = f32(1)
    eps = f32(1e-7)
    for it, grads in enumerate(GRADS):
        t = f32(it) + f32(1)
        if name == "nadam":
            b1, b2, lr, sd = f32(0.9), f32(0.999), f32(0.002), f32(0.004)
            mc_t = b1 * (f32(1) - f32(0.5) * (f32(0.96) ** (t * sd)))
            mc_t1 = b1 * (f32(1) - f32(0.5) * (f32(0.96) ** ((t + f32(1)) * sd)))
            m_new = m_schedule * mc_t
            m_next = m_schedule * mc_t * mc_t1
            m_schedule = m_new
        for i, g in enumerate(grads):
            g = np.array(g, f32)
            p, a, d = w[i], s1[i], s2[i]
            if name == "adagrad":
                lr = f32(0.01)
                a = a + g * g
                p = p - lr * g / (np.sqrt(a) + eps)
            elif name == "adadelta":
                lr, rho = f32(1.0), f32(0.95)
                a = rho * a + f32(1 - 0.95) * (g * g)
                update = g * np.sqrt(d + eps) / np.sqrt(a + eps)
                p = p - lr * update
                d = rho * d + f32(1 - 0.95) * (update * update)
            elif name == "adamax":
                lr, b1, b2 = f32(0.002), f32(0.9), f32(0.999)
                lr_t = lr / (f32(1) - b1 ** t)
                a = (b1 * a) + (f32(1) - b1) * g
                d = np.maximum(b2 * d, np.abs(g))
                p = p - lr_t * a / (d + eps)
            elif name == "nadam":
                g_prime = g / (f32(1) - m_new)
                a = b1 * a + (f32(1) - b1) * g
                m_prime = a / (f32(1) - m_next)
                d = b2 * d + (f32(1) - b2) * (g * g)
                v_prime = d / (f32(1) - b2 ** t)
                m_bar = (f32(1) - mc_t) * g_prime + mc_t1 * m_prime
                p = p - lr * m_bar / (np.sqrt(v_prime) + eps)
            w[i], s1[i], s2[i] = p.astype(f32), a.astype(f32), d.astype(f32)
    return {"w": w[0].tolist(), "b": w[1].tolist(), "slots": [s1[0].tolist(), s1[1].tolist(), s2[0].tolist(), s2[1].tolist()]}


out = {"steps": STEPS, "optimizers": {}, "schedules": {}}
for key, (cls, kwargs) in CASES.items():
    for libname, lib in (("tfk", tf_keras), ("k3", keras)):
        out["optimizers"][f"{key}/{libname}"] = run(lib, cls, kwargs)
for key, (cls, kwargs) in SCHEDULES.items():
    for libname, lib in (("tfk", tf_keras), ("k3", keras)):
        values, config = schedule_values(lib, cls, kwargs)
        out["schedules"][f"{key}/{libname}"] = {"values": values, "config": config}
for name in ("adagrad", "adadelta", "adamax", "nadam"):
    out["optimizers"][f"{name}/k22"] = keras22(name)
out = jsonable(out)


def swift_list(xs):
    return "[" + ", ".join(repr(float(x)) for x in xs) + "]"


def swift(out):
    lines = ["// Generated by tools/optimizer_reference.py --swift (tf-keras 2.21.0, Keras 3.15.1 on TensorFlow",
             "// 2.21 CPU; Keras 2.2.4 emulated in numpy float32). Do not edit.",
             "", "enum OptimizerReference {",
             "    struct Case { let key: String; let className: String; let config: String; let w: [Double]; let b: [Double]; let variables: [(String, [Double])] }",
             "    static let cases: [Case] = ["]
    for key, r in out["optimizers"].items():
        if key.endswith("/k22"):
            continue
        cls = CASES[key.split("/")[0]][0]
        variables = ", ".join(f'({json.dumps(n)}, {swift_list(v if isinstance(v, list) else [v])})' for n, v in r["variables"])
        lines.append(f'        Case(key: {json.dumps(key)}, className: {json.dumps(cls)}, config: {json.dumps(json.dumps(r["config"]))},')
        lines.append(f'             w: {swift_list(r["w"])}, b: {swift_list(r["b"])},')
        lines.append(f'             variables: [{variables}]),')
    lines.append("    ]")
    lines.append("    /// Keras 2.2.4 emulation: weights and both slot groups (first slot w, b; second slot w, b).")
    lines.append("    static let keras22: [String: (w: [Double], b: [Double], slots: [[Double]])] = [")
    for key, r in out["optimizers"].items():
        if key.endswith("/k22"):
            slots = ", ".join(swift_list(x) for x in r["slots"])
            lines.append(f'        {json.dumps(key.split("/")[0])}: ({swift_list(r["w"])}, {swift_list(r["b"])}, [{slots}]),')
    lines.append("    ]")
    lines.append(f"    static let scheduleSteps: [Int64] = {out['steps']}")
    lines.append("    /// (key, class_name, config JSON, values at scheduleSteps)")
    lines.append("    static let schedules: [(String, String, String, [Double])] = [")
    for key, r in out["schedules"].items():
        cls = SCHEDULES[key.split("/")[0]][0]
        lines.append(f'        ({json.dumps(key)}, {json.dumps(cls)}, {json.dumps(json.dumps(r["config"]))}, {swift_list(r["values"])}),')
    lines.append("    ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


if "--swift" in sys.argv:
    sys.stdout.write(swift(out))
else:
    json.dump(out, sys.stdout, indent=1)
