"""Reference side of tools/bench.sh: trains the benchmark model in tf-keras (and in PyTorch when
it is importable) on the bench's data file, and prints one line per epoch:

    <framework> epoch <k> <seconds> <images/s>

The first epoch includes graph tracing / warm-up; bench.sh drops it before taking medians.
Usage: bench_keras.py {tf-keras|torch} MODEL.h5 DATA.h5 EPOCHS BATCH [seed|resnet]
(the last argument picks the PyTorch network: the seed model's, or tools/resnet_bench.py's)
       bench_keras.py files MODEL.h5 CHECKPOINT.h5 REPEATS
The second form times tf-keras's load_model of MODEL.h5 and model.save (h5, with the optimizer
state) of CHECKPOINT.h5, in process, and prints "tf-keras load_ms ..." / "tf-keras save_ms ...".
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import h5py
import numpy as np


def load_data(path):
    with h5py.File(path, "r") as f:
        return np.asarray(f["x"], dtype=np.float32), np.asarray(f["y"], dtype=np.float32)


def bench_tf_keras(model_path, x, y, epochs, batch):
    import tf_keras

    model = tf_keras.models.load_model(model_path)

    class Timer(tf_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            s = time.perf_counter() - self.start
            print(f"tf-keras epoch {epoch + 1} {s:.4f} {len(x) / s:.1f}", flush=True)

    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0, callbacks=[Timer()])


def bench_torch(model_path, x, y, epochs, batch):
    """The same architecture in PyTorch (NCHW), Adam and BCE on softmax outputs, weights from the file."""
    import torch

    with h5py.File(model_path, "r") as f:
        w = f["model_weights"]

        def get(layer, name):
            g = w[layer]
            while name not in g:
                g = g[list(g.keys())[0]]
            return np.asarray(g[name])

        convs = [k for k in w.keys() if k.startswith("conv2d")]
        dense = [k for k in w.keys() if k.startswith("dense")][0]
        params = [(get(c, "kernel:0"), get(c, "bias:0")) for c in sorted(convs)]
        dk, db = get(dense, "kernel:0"), get(dense, "bias:0")

    c1 = torch.nn.Conv2d(1, params[0][0].shape[3], params[0][0].shape[0])
    c2 = torch.nn.Conv2d(params[1][0].shape[2], params[1][0].shape[3], params[1][0].shape[0])
    fc = torch.nn.Linear(dk.shape[0], dk.shape[1])
    with torch.no_grad():
        for conv, (k, b) in zip((c1, c2), params):
            conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
            conv.bias.copy_(torch.from_numpy(b))
        fc.weight.copy_(torch.from_numpy(dk.T.copy()))
        fc.bias.copy_(torch.from_numpy(db))
    model = torch.nn.Sequential(torch.nn.ReLU(), c1, c2, torch.nn.MaxPool2d(2), torch.nn.Flatten(), fc, torch.nn.Softmax(1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCELoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    train_torch(model, opt, loss_fn, tx, ty, epochs, batch)


def train_torch(model, opt, loss_fn, tx, ty, epochs, batch):
    """PyTorch's epochs over shuffled batches, each timed and printed as "torch epoch K S IMAGES/S"."""
    import torch

    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(tx))
        for i in range(0, len(tx), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
        s = time.perf_counter() - start
        print(f"torch epoch {epoch + 1} {s:.4f} {len(tx) / s:.1f}", flush=True)


def bench_torch_resnet(model_path, x, y, epochs, batch):
    """tools/resnet_bench.py's ResNet in PyTorch (NCHW, weights from the file), Adam with
    tf-keras's defaults, cross-entropy of the logits against the one-hot labels."""
    import torch
    from resnet_bench import torch_resnet

    model = torch_resnet(model_path)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)
    model.train()
    train_torch(model, opt, loss_fn, tx, ty, epochs, batch)


def bench_files(model_path, checkpoint_path, repeats):
    import tempfile
    import tf_keras

    tf_keras.models.load_model(model_path)  # imports and registrations happen once, untimed
    for _ in range(repeats):
        start = time.perf_counter()
        tf_keras.models.load_model(model_path)
        print(f"tf-keras load_ms {(time.perf_counter() - start) * 1e3:.1f}", flush=True)
    model = tf_keras.models.load_model(checkpoint_path)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.perf_counter()
            model.save(os.path.join(tmp, "saved.h5"))
            print(f"tf-keras save_ms {(time.perf_counter() - start) * 1e3:.1f}", flush=True)


def main():
    if sys.argv[1] == "files":
        bench_files(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    framework, model_path, data_path, epochs, batch = sys.argv[1:6]
    arch = sys.argv[6] if len(sys.argv) > 6 else "seed"
    x, y = load_data(data_path)
    if framework == "torch":
        import torch

        # The same threads as the others: one per core (tf-keras's and Relapse's default).
        torch.set_num_threads(os.cpu_count())
    run = bench_tf_keras if framework == "tf-keras" else bench_torch_resnet if arch == "resnet" else bench_torch
    run(model_path, x, y, int(epochs), int(batch))


if __name__ == "__main__":
    main()
