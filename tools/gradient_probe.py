#!/usr/bin/env python3
"""Where does one training step of Relapse leave Keras's math? Per-tensor gradient comparison
against a float64 reference.

For one keras.applications family (tools/applications_check.py's FAMILIES) built by tf-keras or
Keras 3, one batch in training mode:
- Relapse's gradient: one step of `relapse train` with SGD (no momentum) at learning rate 2^27,
  read back as (w0 - w1) / lr (the step dwarfs the weight, so float32 keeps the gradient's digits);
- Keras float32: tf.GradientTape on the model Keras built;
- the reference: the same model with every layer in float64, same weights, GradientTape.
It prints, per trainable tensor (forward order), the relative L2 distance of Relapse's and Keras's
float32 gradients from the float64 one. Rounding grows from the output back to the input in
both; a tensor where Relapse's error jumps well above Keras's names a backward to look at.

Why not one epoch against Keras's fit: these networks at their random initialisation, on batches
of 8 with 1x1 feature maps deep down, are ill-conditioned in exact arithmetic. Measured with
float64 Keras: perturbing DenseNet121's initial weights by 6e-8 relative (float32's rounding)
moves the epoch loss of two SGD steps by 5-8e-6 and some BatchNormalization betas by 1-1.6e-2;
tf-keras's own float32 ResNet50 loss is 3.7e-5 from float64 in the forward alone, where ReLU
inputs within 1e-6 of zero flip sign under rounding (the max-pooling-tie effect of
DESIGN.md). A float32 implementation cannot be 1e-4 from another there; it can be as close to
exact arithmetic as Keras is. verdict() says whether it is (applications_check.py runs it).

usage: tools/gradient_probe.py [--relapse PATH] [--keras tf-keras|keras3] [--batch N] FAMILY
"""
import argparse
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
import h5py
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from application_families import FAMILIES  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LEARNING_RATE = 2.0 ** 27


def as_float64(config):
    """The model's config with every float32 dtype (tf-keras strings, Keras 3 policies) float64."""
    if isinstance(config, dict):
        return {k: as_float64(v) for k, v in config.items()}
    if isinstance(config, list):
        return [as_float64(v) for v in config]
    return "float64" if config == "float32" else config


def without_dropout(config):
    """The model's config with every Dropout-family layer's rate 0."""
    if isinstance(config, dict):
        out = {k: without_dropout(v) for k, v in config.items()}
        if "Dropout" in str(out.get("class_name", "")) and isinstance(out.get("config"), dict):
            out["config"] = dict(out["config"], rate=0.0)
        return out
    if isinstance(config, list):
        return [without_dropout(v) for v in config]
    return config


def gradients(K, model, x, y):
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = tf.reduce_mean(K.losses.categorical_crossentropy(y, pred))
        if model.losses:
            loss = loss + tf.add_n(model.losses)
    return [g.numpy().astype(np.float64) for g in tape.gradient(loss, model.trainable_weights)], float(loss)


# Two values of a max-pooling window closer than this (relative to the larger) can come out in
# either order under float32 rounding: the conv stacks before VGG16's pools reach ~1e-6 of their
# values from float64 (oneDNN's and im2col's sums alike), and one window of tf-keras VGG16's
# block2_pool, 8.4e-7 apart in float64, sent its gradient to the other position in Relapse
# (every weight before that pool then ~1e-2 from float64, while Keras float32 happened to keep
# the order). Weights before such a pool are shown but not judged (the max-pool near-tie effect
# that makes the project compare trained weights per output channel).
NEAR_TIE = 2e-6


def near_tie_pools(K, model64, x64):
    """Per max-pooling layer whose float64 input has a window whose two largest values are within
    NEAR_TIE of each other: (layer name, smallest relative gap, indices of the trainable weights
    before it). Channels-last 2-D pooling (keras.applications)."""
    found = []
    for layer in model64.layers:
        if type(layer).__name__ != "MaxPooling2D":
            continue
        config = layer.get_config()
        (ph, pw), (sh, sw) = config["pool_size"], config["strides"] or config["pool_size"]
        before = K.Model(model64.inputs, layer.input)
        a = np.asarray(before(x64))
        patches = tf.image.extract_patches(a, sizes=[1, ph, pw, 1], strides=[1, sh, sw, 1], rates=[1, 1, 1, 1],
                                           padding=config["padding"].upper()).numpy()
        windows = patches.reshape(-1, ph * pw, a.shape[-1]).transpose(0, 2, 1).reshape(-1, ph * pw)
        top2 = np.sort(windows, axis=1)[:, -2:]
        positive = top2[:, 1] > 0
        gaps = (top2[positive, 1] - top2[positive, 0]) / top2[positive, 1]
        if gaps.size and gaps.min() < NEAR_TIE:
            upstream = {id(v) for v in before.trainable_weights}
            found.append((layer.name, float(gaps.min()),
                          {i for i, v in enumerate(model64.trainable_weights) if id(v) in upstream}))
    return found


class Probe:
    """One family's first-step gradients: Relapse's and Keras float32's distance from float64."""

    def __init__(self, label, losses, rows, global_norm, near_ties=()):
        self.label, self.losses, self.rows, self.global_norm = label, losses, rows, global_norm
        self.near_ties = list(near_ties)
        self.unjudged = set().union(*(t[2] for t in self.near_ties)) if self.near_ties else set()

    def verdict(self, factor=10.0):
        """None when Relapse is as close to exact arithmetic as Keras's float32, else the worst
        offenders in words. Per tensor, ||g_relapse - g64|| must be within `factor` times Keras
        float32's own distance, or 1e-4 of the tensor's norm, or 1e-7 of the whole gradient's
        norm (tensors whose exact gradient is zero, such as a bias feeding BatchNormalization,
        have only rounding to compare); the loss within `factor` times Keras's own distance or
        1e-5 relative (issue 13's loss tolerance: Keras's own distance is one draw of rounding and
        can be far smaller than its gradients' errors suggest, e.g. Keras 3 EfficientNetB0: loss
        3e-7 from float64 with output gradients 9e-6 from it; Relapse 6e-6 and 1.4e-5). A wrong backward formula is off by its own size, far beyond these."""
        loss64, loss32, ours = self.losses
        bad = []
        if abs(ours - loss64) > max(factor * abs(loss32 - loss64), 1e-5 * abs(loss64)):
            bad.append(f"loss {ours:.9g} vs float64 {loss64:.9g} (Keras float32 {loss32:.9g})")
        for i, name, ours_err, keras_err, norm in self.rows:
            if i in self.unjudged:
                continue
            if ours_err > max(factor * keras_err, 1e-4 * norm, 1e-7 * self.global_norm):
                bad.append(f"{name}: {ours_err / max(norm, 1e-30):.3g} relative (Keras float32 "
                           f"{keras_err / max(norm, 1e-30):.3g})")
        return "; ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "") if bad else None

    def summary(self):
        ratios = [r[2] / max(r[3], 1e-30) for r in self.rows]
        judged = [r for r, row in zip(ratios, self.rows) if row[0] not in self.unjudged]
        ties = "".join(f"; {len(t[2])} weights before {t[0]} not judged (a window {t[1]:.2g} from a tie)"
                       for t in self.near_ties)
        return (f"median error ratio Relapse/Keras float32 {np.median(judged):.2f}, worst {max(judged):.1f}; "
                f"loss float64 {self.losses[0]:.9g}, Keras {self.losses[1]:.9g}, Relapse {self.losses[2]:.9g}{ties}")


def probe(K, family, relapse, *, batch=8, after_steps=0, relapse_args=()):
    """Builds `family` in Keras `K` (tf_keras or keras), dropout off, and compares one batch's
    gradients. Raises RuntimeError with Relapse's message if `relapse train` fails."""
    K.utils.set_random_seed(0)
    built = FAMILIES[family](K.applications)
    # Dropout off (EfficientNet's top and stochastic-depth layers): masks are random draws.
    model = K.Model.from_config(without_dropout(built.get_config()))
    model.set_weights(built.get_weights())
    model.compile(optimizer=K.optimizers.SGD(learning_rate=LEARNING_RATE), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(batch,) + model.input_shape[1:]).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, size=batch)]

    model64 = K.Model.from_config(as_float64(model.get_config()))
    model64.set_weights([w.astype(np.float64) for w in model.get_weights()])
    if after_steps:
        # Earlier batches first (float64 steps), then every model starts from those weights.
        warm = rng.uniform(0, 1, size=(after_steps * batch,) + model.input_shape[1:])
        warm_y = np.eye(10)[rng.integers(0, 10, size=after_steps * batch)]
        model64.compile(optimizer=K.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="categorical_crossentropy")
        model64.fit(warm, warm_y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        model.set_weights([w.astype(np.float32) for w in model64.get_weights()])
        model64.set_weights([w.astype(np.float64) for w in model.get_weights()])
    g64, loss64 = gradients(K, model64, x.astype(np.float64), y.astype(np.float64))
    g32, loss32 = gradients(K, model, x, y)

    with tempfile.TemporaryDirectory() as tmp:
        start, data, run = (os.path.join(tmp, n) for n in ("start.h5", "data.h5", "run"))
        model.save(start)
        with h5py.File(data, "w") as f:
            f["x"], f["y"] = x, y
        done = subprocess.run([relapse, "train", start, "--data", data, "--epochs", "1", "--batch-size", str(batch),
                               "--no-shuffle", "--checkpoints", run, *relapse_args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
        before = [w.numpy().astype(np.float64) for w in model.trainable_weights]
        model.load_weights(os.path.join(run, "epoch-0001.h5"))
        after = [w.numpy().astype(np.float64) for w in model.trainable_weights]
        with open(os.path.join(run, "history.csv")) as f:
            header, values = f.readline().strip().split(","), f.readline().strip().split(",")
        ours_loss = float(values[header.index("loss")])

    rows = []
    for i, (var, ref, theirs, w0, w1) in enumerate(zip(model.trainable_weights, g64, g32, before, after)):
        ours = (w0 - w1) / LEARNING_RATE
        name = getattr(var, "path", None) or getattr(var, "name", str(i))
        rows.append((i, name, float(np.linalg.norm(ours - ref)), float(np.linalg.norm(theirs - ref)),
                     float(np.linalg.norm(ref))))
    global_norm = float(np.sqrt(sum(r[4] ** 2 for r in rows)))
    return Probe(family, (loss64, loss32, ours_loss), rows, global_norm, near_tie_pools(K, model64, x.astype(np.float64)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relapse", default=os.path.join(ROOT, ".build", "debug", "relapse"))
    parser.add_argument("--keras", choices=["tf-keras", "keras3"], default="tf-keras")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--all", action="store_true", help="print every tensor, not only the worst 25")
    parser.add_argument("--after-steps", type=int, default=0, metavar="N",
                        help="probe at the weights float64 Keras reaches after N steps of SGD (0.05, momentum 0.9) "
                             "on other batches, as applications_check's epoch does")
    parser.add_argument("--relapse-arg", action="append", default=[], metavar="ARG",
                        help="passed on to relapse train (e.g. --relapse-arg=--convolution --relapse-arg=direct)")
    parser.add_argument("family")
    args = parser.parse_args()
    if args.keras == "tf-keras":
        import tf_keras as K
    else:
        import keras as K
    try:
        result = probe(K, args.family, args.relapse, batch=args.batch, after_steps=args.after_steps,
                       relapse_args=args.relapse_arg)
    except RuntimeError as error:
        sys.exit(f"relapse train failed: {error}")
    print(f"{args.keras} {args.family}, batch {args.batch}: {result.summary()}")
    rows = result.rows
    ratio = lambda r: r[2] / max(r[3], 1e-30)
    print(f"{'#':>4} {'tensor':50} {'|g|':>9} {'Relapse':>9} {'Keras32':>9} {'ratio':>7}")
    shown = rows if args.all else sorted(rows, key=lambda r: -ratio(r))[:25]
    for i, name, ours_err, theirs_err, norm in sorted(shown):
        n = max(norm, 1e-30)
        judged = "" if i not in result.unjudged else "  (before a near-tie pool: not judged)"
        print(f"{i:4d} {name[:50]:50} {norm:9.2e} {ours_err / n:9.2e} {theirs_err / n:9.2e} {ratio((i, name, ours_err, theirs_err)):7.1f}{judged}")
    print("verdict:", result.verdict() or "as close to float64 as Keras's float32")


if __name__ == "__main__":
    main()
