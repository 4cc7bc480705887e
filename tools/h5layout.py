#!/usr/bin/env python3
"""Print the HDF5 layout of a Keras file: every group, dataset and attribute,
with the exact HDF5 type of each string attribute (fixed or variable length,
ASCII or UTF-8, padding) and the dataspace of each attribute.

usage: tools/h5layout.py FILE.h5 [--values]

--values also prints attribute values (long JSON is cut to 200 characters).
Only h5py and numpy are needed, not Keras.
"""
import sys

import h5py
import numpy as np

CSET = {h5py.h5t.CSET_ASCII: "ascii", h5py.h5t.CSET_UTF8: "utf8"}
PAD = {h5py.h5t.STR_NULLTERM: "nullterm", h5py.h5t.STR_NULLPAD: "nullpad",
       h5py.h5t.STR_SPACEPAD: "spacepad"}
SPACE = {h5py.h5s.SCALAR: "scalar", h5py.h5s.SIMPLE: "simple", h5py.h5s.NULL: "null"}


def describe_type(tid):
    if isinstance(tid, h5py.h5t.TypeStringID):
        kind = "vlen" if tid.is_variable_str() else f"fixed[{tid.get_size()}]"
        return f"string {kind} {CSET.get(tid.get_cset(), '?')} {PAD.get(tid.get_strpad(), '?')}"
    return str(tid.dtype)


def describe_attrs(obj, path, show_values):
    for name in obj.attrs:
        aid = obj.attrs.get_id(name)
        space = aid.get_space()
        line = (f"  @{name}: {describe_type(aid.get_type())}, "
                f"{SPACE.get(space.get_simple_extent_type(), '?')} {space.shape}")
        if show_values:
            value = obj.attrs[name]
            if isinstance(value, np.ndarray) and value.dtype.kind == "S":
                value = [v.decode() for v in value.tolist()]
            text = repr(value)
            line += " = " + (text if len(text) <= 200 else text[:200] + "...")
        print(line)


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    show_values = "--values" in argv
    with h5py.File(argv[0], "r") as f:
        print("/")
        describe_attrs(f, "/", show_values)

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                print(f"{name}  dataset {obj.dtype} {obj.shape}")
            else:
                print(f"{name}/")
            describe_attrs(obj, name, show_values)

        f.visititems(visit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
