#!/usr/bin/env python3
"""The settings matrix covers every config key: for each layer class Relapse supports, every loss
class, optimizer class, learning-rate schedule, regularizer and constraint of real tf-keras and
Keras 3, and every key of a saved training_config, each key Keras's own get_config() lists is
either varied by a case of tools/settings_matrix.py, belongs to a class a case refuses whole,
or sits in NOT_MATH below with the reason it cannot change the math. A key (or class) Keras adds
later fails this test until it is given a case or a reason.

usage: .venv/bin/python tools/test_settings_matrix.py     (or: pytest tools/test_settings_matrix.py)
Prints the uncovered keys; exit status 1 when there are any.
"""
import inspect
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import settings_matrix as matrix  # noqa: E402

# Every class LayerParser computes (LayerParser.swift, LayerParser+Normalization.swift,
# SpatialLayers.swift), by Keras's class name; its aliases (Convolution2D, MaxPool2D, AvgPool1D...)
# are the same classes.
SUPPORTED_LAYERS = [
    "InputLayer", "Conv2D", "Dense", "MaxPooling2D", "Flatten", "Reshape", "Dropout", "Activation",
    "BatchNormalization", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Rescaling", "Normalization",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Conv1D",
    "AveragePooling2D", "AveragePooling1D", "MaxPooling1D",
    "GlobalAveragePooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D",
    "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Permute", "SpatialDropout2D",
]
WEIGHTLESS = ["MaxPooling2D", "Flatten", "Reshape", "Dropout", "Activation", "ReLU", "LeakyReLU", "ELU",
              "Softmax", "Rescaling", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
              "Concatenate", "AveragePooling2D", "AveragePooling1D", "MaxPooling1D", "GlobalAveragePooling2D",
              "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling1D", "ZeroPadding2D",
              "Cropping2D", "UpSampling2D", "Permute", "SpatialDropout2D"]

# (class or "*", key): why the key cannot change what training computes. "*" = any class of the
# kind. Keep each reason honest: a key that can change the math needs a case instead.
NOT_MATH = {
    ("*", "name"): "a label: names layers, losses, optimizers, schedules; no effect on values",
    # Layers
    ("*", "kernel_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "bias_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "depthwise_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "pointwise_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "alpha_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "gamma_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "beta_initializer"): "the file holds the initialised weights; initializers never run again",
    ("*", "moving_mean_initializer"): "the file holds the moving statistics; initializers never run again",
    ("*", "moving_variance_initializer"): "the file holds the moving statistics; initializers never run again",
    **{(c, "trainable"): "no weights: nothing to freeze" for c in WEIGHTLESS},
    ("Normalization", "trainable"): "its mean, variance and count are non-trainable state set by adapt() or"
                                    " the config; fit never changes them, frozen or not",
    # Keras reads these only with renorm=True (keras/src/layers/normalization/batch_normalization.py,
    # tf_keras/src/layers/normalization/batch_normalization.py), which the bn-renorm case shows refused.
    ("BatchNormalization", "renorm_clipping"): "used only with renorm=True, which is refused by name (bn-renorm)",
    ("BatchNormalization", "renorm_momentum"): "used only with renorm=True, which is refused by name (bn-renorm)",
    # tf-keras's SpatialDropout2D takes Dropout's noise_shape and seed but overrides
    # _get_noise_shape with (batch, 1, 1, channels) (tf_keras/src/layers/regularization/
    # spatial_dropout2d.py), so noise_shape never reaches a mask.
    ("SpatialDropout2D", "noise_shape"): "tf-keras's SpatialDropout2D replaces it with (batch, 1, 1, channels)"
                                         " in _get_noise_shape; the saved value is never used",
    ("InputLayer", "batch_input_shape"): "the input shape: read from the file and checked against the data"
                                         " (varied by the img-cf, img2 and dense families)",
    ("InputLayer", "batch_shape"): "Keras 3's batch_input_shape (same)",
    ("InputLayer", "optional"): "marks a functional input that may be None; a single-input model always gets x",
    # Losses
    ("*", "fn"): "tf-keras's loss wrappers name the function their class implies (the class is what is read)",
    # Optimizers
    ("*", "is_legacy_optimizer"): "always False for tf-keras's optimizer classes listed here (the legacy"
                                  " ones live in tf_keras.optimizers.legacy and are other classes)",
    # training_config
    ("compile", "optimizer_config"): "the optimizer: varied by every optimizer case",
    ("compile", "loss"): "the loss: varied by every loss case",
}

# Classes without a case of their own, and why.
CLASSES_NOT_IN_MATRIX = {
    "LossScaleOptimizer": "only made by a mixed-precision policy: the mixed-float16 case",
    "MultiOptimizer": "tf-keras/keras3 optimizer wrapper needing per-layer optimizers; not savable in legacy h5",
    "Loss": "the abstract base class",
    "LossFunctionWrapper": "the base of the function-backed loss classes",
    "Reduction": "the reduction enum, not a loss",
    "Optimizer": "the abstract base class",
    "LearningRateSchedule": "the abstract base class",
    "Regularizer": "the abstract base class",
    "Constraint": "the abstract base class",
}

# Constructor arguments for classes whose get_config needs an instance that has no default.
SAMPLE_ARGS = {
    "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5),
    "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5),
    "PiecewiseConstantDecay": dict(boundaries=[1], values=[0.1, 0.01]),
    "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=1),
    "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=1),
    "CosineDecayRestarts": dict(initial_learning_rate=0.1, first_decay_steps=1),
}


def config_keys(K, kind):
    """{class name: sorted get_config() keys or None when it cannot be made} for one kind."""
    L = K.layers
    if kind == "layer":
        made = {"InputLayer": (lambda: L.InputLayer(input_shape=(3,)) if "tf_keras" in K.__name__
                               else L.InputLayer(shape=(3,))),
                "Conv2D": lambda: L.Conv2D(2, 3), "Dense": lambda: L.Dense(2), "Reshape": lambda: L.Reshape((2,)),
                "Dropout": lambda: L.Dropout(0.1), "Activation": lambda: L.Activation("relu"),
                "DepthwiseConv2D": lambda: L.DepthwiseConv2D(3), "SeparableConv2D": lambda: L.SeparableConv2D(2, 3),
                "Conv2DTranspose": lambda: L.Conv2DTranspose(2, 3), "Conv1D": lambda: L.Conv1D(2, 3),
                "AveragePooling2D": lambda: L.AveragePooling2D(2), "AveragePooling1D": lambda: L.AveragePooling1D(2),
                "MaxPooling1D": lambda: L.MaxPooling1D(2), "Rescaling": lambda: L.Rescaling(0.5),
                "Permute": lambda: L.Permute((2, 1)), "SpatialDropout2D": lambda: L.SpatialDropout2D(0.1)}
        # The rest take no required argument.
        return {n: sorted((made.get(n) or getattr(L, n))().get_config()) for n in SUPPORTED_LAYERS}
    module, base = {"loss": (K.losses, K.losses.Loss), "optimizer": (K.optimizers, K.optimizers.Optimizer),
                    "schedule": (K.optimizers.schedules, K.optimizers.schedules.LearningRateSchedule),
                    "regularizer": (K.regularizers, K.regularizers.Regularizer),
                    "constraint": (K.constraints, K.constraints.Constraint)}[kind]
    out = {}
    for n in dir(module):
        c = getattr(module, n)
        if not (inspect.isclass(c) and issubclass(c, base)) or n.startswith("_"):
            continue
        if c is base or n in CLASSES_NOT_IN_MATRIX or n != c.__name__:  # skip aliases (l2, max_norm)
            continue
        try:
            out[n] = sorted(c(**SAMPLE_ARGS.get(n, {})).get_config())
        except Exception:
            out[n] = None
    return out


def training_config_keys(K):
    """The keys of a saved training_config (this Keras's model.save to legacy h5)."""
    import h5py
    import logging
    logging.getLogger("absl").setLevel(logging.ERROR)
    inp = K.Input(shape=(2,))
    model = K.Model(inp, K.layers.Dense(1)(inp))
    model.compile(optimizer="adam", loss="mse")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.h5")
        model.save(p)
        with h5py.File(p, "r") as f:
            tc = f.attrs["training_config"]
    return sorted(json.loads(tc.decode() if isinstance(tc, bytes) else tc))


def uncovered(generation, K):
    """[(kind, class, key or None, text)] of what no case varies and no table excuses."""
    cases = matrix.cases_for(generation)
    varied, refused_classes = set(), set()
    for c in cases:
        v = matrix.varied(c)
        varied.update(v)
        exp = matrix.expectation(generation, c["name"])
        if exp["expect"] == "refuse":
            refused_classes.update(cls for cls, key in v if key is None and cls in exp["names"])
            refused_classes.update(n for n in exp["names"])
    varied_keys = {k for _, k in varied if k}
    missing = []
    kinds = {k: config_keys(K, k) for k in ("layer", "loss", "optimizer", "schedule", "regularizer", "constraint")}
    kinds["compile"] = {"compile": training_config_keys(K)}
    for kind, classes in kinds.items():
        base_keys = set.intersection(*(set(v) for v in classes.values() if v)) if kind in ("loss", "optimizer") else set()
        for cls, keys in sorted(classes.items()):
            if kind not in ("layer", "compile") and (cls, None) not in varied and cls not in refused_classes:
                missing.append((kind, cls, None, "no case uses this class"))
                continue
            if cls in refused_classes:
                continue  # refused whole: every key is refused with it
            for key in keys or []:
                if (cls, key) in varied or ("*", key) in NOT_MATH or (cls, key) in NOT_MATH:
                    continue
                if key in base_keys and key in varied_keys:
                    continue  # a key of the base class (reduction, clipnorm...): varied on one class
                missing.append((kind, cls, key, "not varied by any case and not in NOT_MATH"))
    return missing


def check_generation(generation):
    if generation == "tfk":
        import tf_keras as K
    else:
        import keras as K
    return uncovered(generation, K)


def test_tf_keras_keys_covered():
    missing = check_generation("tfk")
    assert not missing, "\n".join(map(str, missing))


def test_keras3_keys_covered():
    missing = check_generation("keras3")
    assert not missing, "\n".join(map(str, missing))


def test_expectations_name_existing_cases():
    names = {c["name"] for c in matrix.CASES}
    stale = [k for k in matrix.EXPECT if k.split(":")[-1] not in names]
    assert not stale, f"EXPECT names cases that do not exist: {stale}"


def main():
    import warnings
    warnings.filterwarnings("ignore")
    failed = 0
    try:
        test_expectations_name_existing_cases()
    except AssertionError as e:
        print(f"FAIL {e}")
        failed += 1
    for g in matrix.GENERATIONS:
        missing = check_generation(g)
        for kind, cls, key, why in missing:
            print(f"FAIL {g} {kind} {cls}" + (f".{key}" if key else "") + f": {why}")
        print(f"{'PASS' if not missing else 'FAIL'} {g}: every config key covered" if not missing
              else f"FAIL {g}: {len(missing)} uncovered")
        failed += bool(missing)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
