#!/usr/bin/env python3
"""Check that .h5 files written by Relapse are what real Keras expects.

usage: tools/keras_check.py ORIGINAL.h5 RELAPSE_WRITTEN.h5 [ORIGINAL RELAPSE ...]
       tools/keras_check.py --pairs-from FILE     (one "ORIGINAL RELAPSE" pair a line,
                                                   blank lines and # comments ignored)

For each pair:
  h5py    model_config and training_config parse to equal JSON (a Keras 2.2 training_config,
          rewritten in tf-keras's dialect, to the same loss, optimizer and settings);
          layer_names equal; every weight in model_weights bit-identical, layer by
          layer, position by position (names too when both files come from the same
          producer); optimizer_weights bit-identical (by name for the same layout,
          else after mapping each producer's layout onto iterations + slots).
  tf-keras  load_model(RELAPSE, compile = file has training_config); every layer's
          weights equal the file's; with optimizer state: the restored optimizer's
          iterations equal the original's and every optimizer variable equals the
          file's dataset.
  Keras 3   keras.saving.load_model(RELAPSE) (legacy h5 path); every layer's weights
          equal the file's. Keras 3 does not restore slot variables from legacy h5
          (not even from its own files), so its optimizer is only reported (INFO).
A load check is SKIPped, not failed, when that Keras cannot load the ORIGINAL
either (e.g. tf-keras and Keras 3 configs, Keras 3 and Keras 2.2's `lr`).
Prints one line per check and finally exactly "N passed, M failed"; exit status 1
on any failure, 2 on bad usage.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"

import warnings  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")


# --------------------------------------------------------------------------
# Reading the Keras layout with h5py
# --------------------------------------------------------------------------

def text(v):
    """An attribute string in any form h5py returns (str, bytes, np.bytes_)."""
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf8")
    return str(v)


def str_list(group, name):
    """A list attribute, joined back from name0, name1, ... when Keras split it
    past 64 KB. Empty lists are stored as float64 arrays of shape (0,)."""
    if name in group.attrs:
        raw = group.attrs[name]
    elif f"{name}0" in group.attrs:
        raw, i = [], 0
        while f"{name}{i}" in group.attrs:
            raw.extend(group.attrs[f"{name}{i}"])
            i += 1
    else:
        return None
    return [text(x) for x in np.asarray(raw).ravel() if not isinstance(x, float)]


def producer(f):
    """'keras22', 'keras3' or 'tfkeras' from the root keras_version."""
    v = text(f.attrs.get("keras_version", b"")).split(".")
    try:
        major, minor = int(v[0]), int(v[1])
    except (ValueError, IndexError):
        return "tfkeras"
    if major >= 3:
        return "keras3"
    # Keras 2.0-2.3 (standalone) write the 2.2 layout; tf.keras reports 2.4+
    # ("2.21.0" is tf-keras 2.21, not Keras 2.2).
    return "keras22" if (major, minor) <= (2, 3) else "tfkeras"


def optimizer_layout(f):
    """Which producer's optimizer_weights layout a file holds (Relapse always writes
    tf-keras 2.11+'s, whatever producer made the model), or None without optimizer state."""
    if "optimizer_weights" not in f:
        return None
    names = str_list(f["optimizer_weights"], "weight_names") or []
    if not names:
        return None
    if names[0].startswith("iteration"):
        return "tfkeras"
    return "keras3" if names[0].endswith("/iteration") else "keras22"


def training_essentials(config):
    """Loss, optimizer class and hyperparameters of a training_config in any dialect:
    Keras 2.2's `lr` is tf-keras's `learning_rate`, tf-keras registers "Custom>Adam"."""
    opt = config.get("optimizer_config", {})
    settings = dict(opt.get("config", {}))
    if "lr" in settings:
        settings["learning_rate"] = settings.pop("lr")
    keep = ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad", "momentum", "nesterov",
            "rho", "centered")
    return (config.get("loss"), opt.get("class_name", "").replace("Custom>", ""),
            {k: settings[k] for k in keep if k in settings})


def weights_root(f):
    return f["model_weights"] if "model_weights" in f else f  # save_weights files


def layer_weights(f):
    """[(layer name, [(weight name, array)])] in layer_names order."""
    root = weights_root(f)
    out = []
    for layer in str_list(root, "layer_names") or []:
        names = str_list(root[layer], "weight_names") or []
        out.append((layer, [(n, root[layer][n][()]) for n in names]))
    return out


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# Slot names of each producer mapped onto tf-keras 2.11+'s names.
K3_SLOTS = {"adam": {"momentum": "m", "velocity": "v", "velocity_hat": "vhat"},
            "sgd": {"momentum": "m"},
            "rmsprop": {"velocity": "velocity", "momentum": "momentum",
                        "average_gradient": "average_gradient"}}
TF_OPTIMIZERS = {"Adam", "AdamW", "Adamax", "Nadam", "SGD", "RMSprop", "Adagrad",
                 "Adadelta", "Adafactor", "Ftrl", "Lion"}
K22_SLOTS = {"Adam": ["m", "v", "vhat"], "SGD": ["m"], "RMSprop": ["velocity"]}


def optimizer_state(f, n_params):
    """(names, {name: array}, iterations, {slot: [arrays in parameter order]})."""
    if "optimizer_weights" not in f:
        return None
    g = f["optimizer_weights"]
    names = str_list(g, "weight_names") or []
    values = {n: g[n][()] for n in names}
    kind = optimizer_layout(f)
    iterations, slots = None, {}
    if kind == "keras22":
        # [iterations] + n per slot kind, in order; Adam without amsgrad keeps
        # a (1,) placeholder per parameter as vhat: not state, dropped.
        iterations = int(values[names[0]])
        rest = [values[n] for n in names[1:]]
        kinds = K22_SLOTS.get(names[0].split("/")[0], [])
        for i, slot in enumerate(kinds):
            chunk = rest[i * n_params:(i + 1) * n_params]
            if slot == "vhat" and chunk and all(a.shape == (1,) for a in chunk):
                continue
            slots[slot] = chunk
    elif kind == "keras3":
        for n in names:
            opt, _, var = n.partition("/")
            if var == "iteration":
                iterations = int(values[n])
            elif var == "learning_rate":
                continue
            else:
                table = K3_SLOTS.get(opt, {})
                for suffix in sorted(table, key=len, reverse=True):
                    if var.endswith("_" + suffix):
                        slots.setdefault(table[suffix], []).append(values[n])
                        break
                else:
                    slots.setdefault(var, []).append(values[n])
    else:
        for n in names:
            parts = n.split("/")
            if parts[-1].startswith("iter"):  # iteration:0, legacy optimizer iter:0
                iterations = int(values[n])
            elif parts[0] in TF_OPTIMIZERS:  # 2.11+: Adam/m/conv2d/kernel:0
                slots.setdefault(parts[1], []).append(values[n])
            else:  # tf-keras legacy optimizer: conv2d/kernel/m:0
                slots.setdefault(parts[-1].split(":")[0], []).append(values[n])
    return names, values, iterations, slots


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, label, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {label}")
        else:
            self.failed += 1
            print(f"FAIL {label}" + (f": {detail}" if detail else ""))

    @staticmethod
    def info(label):
        print(f"INFO {label}")

    @staticmethod
    def skip(label, why):
        print(f"SKIP {label}: {why}")


def check_h5(rep, tag, orig_path, new_path):
    with h5py.File(orig_path, "r") as o, h5py.File(new_path, "r") as n:
        same_producer = producer(o) == producer(n)
        for attr in ("model_config", "training_config"):
            if attr not in o.attrs:
                continue
            if attr not in n.attrs:
                rep.check(False, f"{tag} {attr}", "missing")
                continue
            try:
                old, new = json.loads(text(o.attrs[attr])), json.loads(text(n.attrs[attr]))
                if attr == "training_config" and old != new:
                    # Another dialect (Keras 2.2's, rewritten for today's loaders): the same
                    # loss, optimizer and hyperparameters is what must survive.
                    rep.check(training_essentials(old) == training_essentials(new),
                              f"{tag} training_config same loss, optimizer and settings",
                              f"{training_essentials(old)} vs {training_essentials(new)}")
                    continue
                rep.check(old == new, f"{tag} {attr} JSON equal", "differs")
            except ValueError as e:
                rep.check(False, f"{tag} {attr} JSON equal", f"does not parse: {e}")

        lo, ln = layer_weights(o), layer_weights(n)
        rep.check([l for l, _ in lo] == [l for l, _ in ln], f"{tag} layer_names equal",
                  f"{[l for l, _ in lo]} vs {[l for l, _ in ln]}")
        new_by_layer = dict(ln)
        n_params, bad = 0, []
        for layer, ws in lo:
            nws = new_by_layer.get(layer, [])
            n_params += len(ws)
            if len(ws) != len(nws):
                bad.append(f"{layer}: {len(ws)} vs {len(nws)} weights")
                continue
            for (on, ov), (nn, nv) in zip(ws, nws):
                if same_producer and on != nn:
                    bad.append(f"{layer}: name {on} vs {nn}")
                if not same_bits(ov, nv):
                    bad.append(f"{layer}/{on}: values differ")
        rep.check(not bad, f"{tag} model weights bit-identical ({n_params} arrays)",
                  "; ".join(bad[:5]))

        so, sn = optimizer_state(o, n_params), optimizer_state(n, n_params)
        if so is None:
            return
        if sn is None:
            rep.check(False, f"{tag} optimizer_weights", "missing in Relapse file")
            return
        if optimizer_layout(o) == optimizer_layout(n):
            bad = [] if so[0] == sn[0] else [f"names {so[0]} vs {sn[0]}"]
            bad += [f"{k} differs" for k in so[0] if k in sn[1] and not same_bits(so[1][k], sn[1][k])]
            rep.check(not bad, f"{tag} optimizer_weights bit-identical by name ({len(so[0])})",
                      "; ".join(bad[:5]))
        else:
            bad = [] if so[2] == sn[2] else [f"iterations {so[2]} vs {sn[2]}"]
            if set(so[3]) != set(sn[3]):
                bad.append(f"slots {sorted(so[3])} vs {sorted(sn[3])}")
            for slot in set(so[3]) & set(sn[3]):
                a, b = so[3][slot], sn[3][slot]
                if len(a) != len(b) or not all(same_bits(x, y) for x, y in zip(a, b)):
                    bad.append(f"slot {slot} differs")
            rep.check(not bad, f"{tag} optimizer state equal ({optimizer_layout(o)} -> {optimizer_layout(n)} layout, "
                      "by slot and position)", "; ".join(bad))


def load_or_none(loader, p, compile_):
    try:
        return loader(p, compile_), None
    except Exception as e:  # any failure to load is the finding
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"


def compare_model_weights(model, new_path):
    with h5py.File(new_path, "r") as f:
        stored = dict(layer_weights(f))
    bad = []
    for layer in model.layers:
        got = [np.asarray(w) for w in layer.get_weights()]
        want = [v for _, v in stored.get(layer.name, [])]
        if len(got) != len(want) or not all(same_bits(a, b) for a, b in zip(got, want)):
            bad.append(layer.name)
    return bad


def check_load(rep, tag, which, loader, orig_path, new_path):
    with h5py.File(new_path, "r") as f:
        if "model_config" not in f.attrs:
            rep.skip(f"{tag} {which} load_model", "weights-only file")
            return
        compile_ = "training_config" in f.attrs
    label = f"{tag} {which} load_model(compile={compile_})"
    model, err = load_or_none(loader, new_path, compile_)
    if model is None:
        _, orig_err = load_or_none(loader, orig_path, compile_)
        if orig_err is not None:
            rep.skip(label, f"the original does not load either ({orig_err})")
        else:
            rep.check(False, label, err)
        return
    rep.check(True, label)
    bad = compare_model_weights(model, new_path)
    rep.check(not bad, f"{tag} {which} loaded weights equal the file's", f"layers {bad}")

    opt = getattr(model, "optimizer", None) if compile_ else None
    with h5py.File(orig_path, "r") as o, h5py.File(new_path, "r") as n:
        n_params = sum(len(ws) for _, ws in layer_weights(o))
        so, sn = optimizer_state(o, n_params), optimizer_state(n, n_params)
    if opt is None or so is None or sn is None:
        return
    variables = opt.variables() if callable(opt.variables) else opt.variables
    iterations = int(np.asarray(opt.iterations))
    if which == "keras3":
        rep.info(f"{tag} keras3 optimizer: iterations {iterations} (original {so[2]}), "
                 f"{len(variables)} variables restored of {len(sn[0])} in the file")
        return
    rep.check(iterations == so[2], f"{tag} {which} optimizer iterations = {so[2]}",
              f"restored {iterations}")
    names, values = sn[0], sn[1]
    if len(names) == 1:
        # An untrained model's file holds only the iteration counter; tf-keras
        # then starts the slots fresh (zeros), which is what this file means.
        slots = [v for v in variables if "iter" not in v.name]
        nonzero = [v.name for v in slots if np.any(np.asarray(v))]
        rep.check(not nonzero, f"{tag} {which} optimizer slots fresh (file holds only "
                  f"{names[0]})", f"non-zero: {nonzero[:5]}")
        return
    # tf-keras names its variables "m/conv2d/kernel:0" and saves them under
    # "Adam/m/conv2d/kernel:0": match by name with or without that prefix.
    by_name = dict(values)
    by_name.update({k.split("/", 1)[1]: a for k, a in values.items() if "/" in k})
    if all(v.name in by_name for v in variables) and len(variables) == len(names):
        pairs = [(v.name, np.asarray(v), by_name[v.name]) for v in variables]
        how = "by name"
    else:  # e.g. tf-keras's legacy optimizer for Keras 2.2 files: iter:0, .../m:0
        ordered = [values[k] for k in names]
        if len(ordered) != len(variables):
            # Keras 2.2 Adam keeps (1,) vhat placeholders that the legacy optimizer drops.
            ordered = [a for a in ordered if not (a.shape == (1,) and len(ordered) > len(variables))]
        pairs = [(v.name, np.asarray(v), a) for v, a in zip(variables, ordered)]
        how = "by position"
        if len(ordered) != len(variables):
            rep.check(False, f"{tag} {which} optimizer variables equal the file's",
                      f"{len(variables)} variables vs {len(ordered)} datasets")
            return
    bad = [name for name, a, b in pairs
           if not (np.shape(a) == np.shape(b) and np.array_equal(np.asarray(a).astype(np.asarray(b).dtype), b))]
    rep.check(not bad, f"{tag} {which} optimizer variables equal the file's "
              f"({len(pairs)}, {how})", f"differ: {bad[:5]}")


def read_pairs(argv):
    if argv[:1] == ["--pairs-from"] and len(argv) == 2:
        items = []
        with open(argv[1]) as fh:
            for line in fh:
                line = line.split("#", 1)[0].split()
                if line:
                    if len(line) != 2:
                        raise SystemExit(f"bad line in {argv[1]}: {' '.join(line)}")
                    items.append(tuple(line))
        return items
    if not argv or len(argv) % 2 or any(a.startswith("-") for a in argv):
        return None
    return list(zip(argv[0::2], argv[1::2]))


def main(argv):
    pairs = read_pairs(argv)
    if not pairs:
        print(__doc__, file=sys.stderr)
        return 2
    for pair in pairs:
        for p in pair:
            if not os.path.isfile(p):
                print(f"keras_check: {p}: no such file", file=sys.stderr)
                return 2

    import tensorflow as tf  # slow imports only once the arguments are good
    tf.get_logger().setLevel("ERROR")
    import absl.logging
    absl.logging.set_verbosity("error")
    import tf_keras
    import keras

    def tfk_load(p, c):
        return tf_keras.models.load_model(p, compile=c)

    def k3_load(p, c):
        return keras.saving.load_model(p, compile=c)

    rep = Report()
    for orig, new in pairs:
        tag = f"[{os.path.basename(orig)} -> {os.path.basename(new)}]"
        try:
            check_h5(rep, tag, orig, new)
        except Exception as e:  # a file so broken that the layout can't be read
            rep.check(False, f"{tag} h5 layout readable", f"{type(e).__name__}: {e}")
        for which, loader in (("tf-keras", tfk_load), ("keras3", k3_load)):
            tf_keras.backend.clear_session()
            keras.backend.clear_session()
            check_load(rep, tag, which, loader, orig, new)
    print(f"{rep.passed} passed, {rep.failed} failed")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
