#!/usr/bin/python3
"""Train the three Fashion-MNIST model variants hir routes between and export them to ONNX.

Run with Debian's interpreter (its python3-torch is not visible to other pythons):

    /usr/bin/python3 models/train.py                 # all three, default recipe
    /usr/bin/python3 models/train.py --models large --epochs-large 8

Writes, Triton model-repository style, models/<name>/1/model.onnx and models/<name>/config.yaml.

The exported graphs are shaped for OpenCV 4.6's ONNX importer (see shared/STACK.md):
  * input `input` FP32 [N, 784] in [0, 1], output `probabilities` FP32 [N, 10], softmax in the graph;
  * the batch axis is dynamic, and no shape is computed from x.size(0): OpenCV cannot load
    "dynamic zero" shapes, so the CNN uses reshape(-1, 1, 28, 28) and torch.flatten(x, 1);
  * nn.Linear exports as Gemm with transB=1, the only Gemm form OpenCV 4.6 accepts.
"""

import argparse
import gzip
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("HIR_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")

CONFIG_TEMPLATE = """\
# What ONNX does not say: names, datatypes and shapes of the tensors the worker serves.
name: {name}
platform: onnxruntime_onnx     # reported as the v2 metadata "platform"
max_batch_size: 256            # >0: shapes below exclude the leading batch dimension
inputs:
  - {{name: input, datatype: FP32, shape: [784]}}
outputs:
  - {{name: probabilities, datatype: FP32, shape: [10]}}
"""


# --- data -------------------------------------------------------------------------------------

def read_idx(path, magic, header_words):
    """Read a gzip IDX file (big-endian header, then uint8 data) and check its magic and size."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    words = struct.unpack(">%dI" % header_words, raw[: 4 * header_words])
    if words[0] != magic:
        sys.exit("%s: bad magic 0x%08x" % (path, words[0]))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * header_words)
    expected = int(np.prod(words[1:]))
    if data.size != expected:
        sys.exit("%s: %d bytes of data, header says %d" % (path, data.size, expected))
    return data.reshape(words[1:])


def load_split(data_dir, split):
    images = read_idx(os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % split), 0x803, 4)
    labels = read_idx(os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % split), 0x801, 2)
    # The same scaling the router's clients use: pixel / 255, flattened row-major.
    x = torch.from_numpy(images.reshape(-1, 784).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# --- models -----------------------------------------------------------------------------------
# Each returns logits from forward(); Exported wraps it with the softmax the graph must contain.

class Mlp(nn.Module):
    def __init__(self, sizes, dropout=0.0):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.dropout = dropout

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
            if self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        return self.layers[-1](x)


class Cnn(nn.Module):
    """conv32-pool-conv64-pool-fc128: pooling before the FC keeps the file under ~2 MB
    (a 64x14x14 feature map into fc128 alone would be 1.6 M parameters, 6.4 MB)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)  # never x.size(0): OpenCV rejects the dynamic shape
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.dropout(x, 0.25, self.training)
        x = F.dropout(F.relu(self.fc1(x)), 0.25, self.training)
        return self.fc2(x)


class Exported(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return F.softmax(self.net(x), dim=1)


def make_model(name):
    if name == "tiny":
        return Mlp([784, 32, 10])  # 25,450 parameters: ~25 KB of int8 weights on the Cortex-M4
    if name == "small":
        return Mlp([784, 256, 128, 10], dropout=0.1)
    if name == "large":
        return Cnn()
    raise ValueError(name)


# --- training ---------------------------------------------------------------------------------

def augment(x, gen):
    """Light augmentation for the CNN: random horizontal flip and a shift of up to 2 pixels.
    Garments are left-right symmetric enough that flips keep the label."""
    n = x.shape[0]
    img = x.reshape(n, 28, 28)
    flip = torch.rand(n, generator=gen) < 0.5
    img = torch.where(flip[:, None, None], img.flip(2), img)
    padded = F.pad(img, (2, 2, 2, 2))
    dx, dy = torch.randint(0, 5, (2,), generator=gen).tolist()  # one shift per batch: cheap
    return padded[:, dy:dy + 28, dx:dx + 28].reshape(n, 784)


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def train(name, model, x, y, xt, yt, epochs, lr, batch, seed, use_aug):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    # Cosine decay to zero over the run: a few points better than a constant rate at few epochs.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * ((x.shape[0] + batch - 1) // batch))
    start = time.time()
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for i in range(0, x.shape[0], batch):
            idx = perm[i:i + batch]
            xb = augment(x[idx], gen) if use_aug else x[idx]
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * idx.shape[0]
        print("  %s epoch %d/%d loss %.4f test acc %.4f (%.1f s)" % (
            name, epoch + 1, epochs, total / x.shape[0], accuracy(model, xt, yt), time.time() - t0),
            flush=True)
    return time.time() - start


def export(name, model, out_dir):
    wrapped = Exported(model).eval()
    model_dir = os.path.join(out_dir, "fmnist-" + name)
    os.makedirs(os.path.join(model_dir, "1"), exist_ok=True)
    path = os.path.join(model_dir, "1", "model.onnx")
    torch.onnx.export(wrapped, torch.zeros(1, 784), path, input_names=["input"],
                      output_names=["probabilities"],
                      dynamic_axes={"input": {0: "N"}, "probabilities": {0: "N"}},
                      opset_version=13, do_constant_folding=True)
    with open(os.path.join(model_dir, "config.yaml"), "w") as f:
        f.write(CONFIG_TEMPLATE.format(name="fmnist-" + name))
    try:
        import onnx
        onnx.checker.check_model(onnx.load(path))
    except ImportError:
        pass
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="tiny,small,large", help="comma-separated subset of tiny,small,large")
    p.add_argument("--epochs", type=int, default=None, help="override the epochs of every model")
    p.add_argument("--epochs-tiny", type=int, default=8)
    p.add_argument("--epochs-small", type=int, default=15)
    p.add_argument("--epochs-large", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (cosine-decayed)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the box has 2 cores)")
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--out-dir", default=MODELS_DIR)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    x, y = load_split(args.data_dir, "train")
    xt, yt = load_split(args.data_dir, "t10k")
    print("train %d, test %d images, torch %s, %d threads" % (x.shape[0], xt.shape[0], torch.__version__,
                                                             torch.get_num_threads()))
    summary = []
    for name in args.models.split(","):
        # Seed per model so that training one model alone gives the same weights as in a full run.
        torch.manual_seed(args.seed)
        random.seed(args.seed)
        np.random.seed(args.seed)
        model = make_model(name)
        params = sum(t.numel() for t in model.parameters())
        epochs = args.epochs if args.epochs is not None else getattr(args, "epochs_" + name)
        print("fmnist-%s: %d parameters, %d epochs" % (name, params, epochs), flush=True)
        secs = train(name, model, x, y, xt, yt, epochs, args.lr, args.batch_size, args.seed,
                     use_aug=(name == "large"))
        acc = accuracy(model, xt, yt)
        path = export(name, model, args.out_dir)
        summary.append((name, params, os.path.getsize(path), epochs, secs, acc))
    print("\nmodel          params   onnx bytes  epochs  train s  test acc (PyTorch, 10,000 images)")
    for name, params, size, epochs, secs, acc in summary:
        print("fmnist-%-7s %8d %12d %7d %8.0f  %.4f" % (name, params, size, epochs, secs, acc))


if __name__ == "__main__":
    main()
