#!/usr/bin/python3
"""Post-training int8 quantization of fmnist-tiny into a firmware model blob (docs/model-blob.md).

Reads the fp32 weights from the ONNX file, calibrates activation ranges on Fashion-MNIST training
images, and writes models/fmnist-tiny/int8/model.hirm. The quantization scheme is TensorFlow
Lite's (https://www.tensorflow.org/lite/performance/quantization_spec):

- weights: int8, symmetric, one scale per output channel, values in [-127, 127];
- activations: int8, one scale and zero point per tensor, from the calibrated min/max (range
  widened to include 0 so that 0 is exact);
- bias: int32 with scale input_scale * weight_scale[c], zero point 0;
- requantization: the effective scale input_scale * weight_scale[c] / output_scale as a Q31
  multiplier and a shift (TFLite QuantizeMultiplier), applied with gemmlowp's rounding.

The input is the raw pixel: scale 1/255 and zero point -128 make q = pixel - 128 exact.

It also evaluates, on the 10,000 test images, the fp32 model (numpy) and an integer re-implementation
of the firmware's kernels (int64 numpy, the same formulas as firmware/src/quant.c), and prints
accuracy, agreement, arena bytes, blob bytes and MACs. Run: /usr/bin/python3 models/quantize.py
"""
import argparse
import gzip
import math
import os
import struct
import zlib

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC, VERSION, HEADER, ENTRY = b"HIRM", 1, 32, 32
FC, ACT_NONE, ACT_RELU = 1, 0, 1


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load_layers(onnx_path):
    """[(W [out,in], b [out], relu?)] from the Gemm(transB=1) / Relu chain."""
    g = onnx.load(onnx_path).graph
    init = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    layers = []
    for node in g.node:
        if node.op_type == "Gemm":
            layers.append([init[node.input[1]], init[node.input[2]], False])
        elif node.op_type == "Relu":
            layers[-1][2] = True
    return layers


def fp32_forward(layers, x):
    """Per-layer outputs (after the fused ReLU) of the float model; x in [0, 1]."""
    outs = []
    for w, b, relu in layers:
        x = x @ w.T + b
        if relu:
            x = np.maximum(x, 0.0)
        outs.append(x)
    return outs


def quantize_multiplier(m):
    """TFLite QuantizeMultiplier: m = q * 2^(shift - 31), q in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    frac, shift = math.frexp(m)
    q = int(round(frac * (1 << 31)))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def act_qparams(lo, hi):
    """Per-tensor asymmetric int8 (TFLite ChooseQuantizationParams over [min(lo,0), max(hi,0)])."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0
    zp = int(round(-128 - lo / scale))
    return float(np.float32(scale)), max(-128, min(127, zp))


def quantize(layers, calib):
    in_scale, in_zp = 1.0 / 255.0, -128
    q_layers = []
    outs = fp32_forward(layers, calib.astype(np.float64) / 255.0)
    for (w, b, relu), out in zip(layers, outs):
        out_scale, out_zp = act_qparams(float(out.min()), float(out.max()))
        w_scale = np.maximum(np.abs(w).max(axis=1), 1e-12) / 127.0
        w_scale = w_scale.astype(np.float32).astype(np.float64)
        qw = np.clip(np.round(w / w_scale[:, None]), -127, 127).astype(np.int8)
        qb = np.round(b / (in_scale * w_scale)).astype(np.int64)
        mults = [quantize_multiplier(in_scale * s / out_scale) for s in w_scale]
        q_layers.append(dict(w=qw, b=qb.astype(np.int32), mult=np.array([m for m, _ in mults]),
                             shift=np.array([s for _, s in mults]), w_scale=w_scale, relu=relu,
                             in_scale=in_scale, in_zp=in_zp, out_scale=out_scale, out_zp=out_zp))
        in_scale, in_zp = out_scale, out_zp
    return q_layers


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul, elementwise on int64 arrays."""
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    v = ab + nudge
    q = np.abs(v) // (1 << 31) * np.sign(v)  # truncation toward zero, as C
    sat = (a == -(1 << 31)) & (b == -(1 << 31))
    return np.where(sat, (1 << 31) - 1, q)


def rounding_divide_by_pot(x, e):
    mask = (np.int64(1) << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    return (x >> e) + (rem > thr)


def int8_forward(q_layers, pixels):
    """Integer inference exactly as firmware/src/kernels.c does it; returns int8 logits."""
    x = pixels.astype(np.int64) - 128
    for L in q_layers:
        acc = (x - L["in_zp"]) @ L["w"].astype(np.int64).T + L["b"].astype(np.int64)
        shift = L["shift"].astype(np.int64)
        left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
        acc = np.clip(acc * (np.int64(1) << left), -(1 << 31), (1 << 31) - 1)
        acc = rounding_divide_by_pot(srdhm(acc, L["mult"].astype(np.int64)), right)
        lo = max(-128, L["out_zp"]) if L["relu"] else -128
        x = np.clip(acc + L["out_zp"], lo, 127)
    return x


def arena_bytes(q_layers, input_size):
    """Mirror of arena_plan in firmware/src/model.c."""
    buf = [input_size, 0]
    for i, L in enumerate(q_layers):
        buf[(i + 1) % 2] = max(buf[(i + 1) % 2], L["w"].shape[0])
    a4 = lambda n: (n + 3) & ~3
    return a4(buf[0]) + a4(buf[1]) + sum(4 * L["w"].shape[0] for L in q_layers)


def build_blob(q_layers, input_size):
    a4 = lambda n: (n + 3) & ~3
    n = len(q_layers)
    table, data = b"", b""
    offset = HEADER + n * ENTRY
    for L in q_layers:
        out_n, in_n = L["w"].shape
        body = L["w"].tobytes() + b"\0" * (a4(out_n * in_n) - out_n * in_n)
        body += L["b"].astype("<i4").tobytes() + L["mult"].astype("<i4").tobytes()
        body += L["shift"].astype("<i4").tobytes() + L["w_scale"].astype("<f4").tobytes()
        table += struct.pack("<BBHHbbffII8x", FC, ACT_RELU if L["relu"] else ACT_NONE, in_n, out_n,
                             L["in_zp"], L["out_zp"], L["in_scale"], L["out_scale"],
                             offset + len(data), len(body))
        data += body
    output_size = q_layers[-1]["w"].shape[0]
    rest = struct.pack("<HHHBBfI", n, input_size, output_size, 0, 0, 1.0 / 255.0,
                       arena_bytes(q_layers, input_size)) + table + data
    total = 16 + len(rest)
    return MAGIC + struct.pack("<HHII", VERSION, HEADER, total, zlib.crc32(rest)) + rest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--onnx", default=os.path.join(HERE, "fmnist-tiny/1/model.onnx"))
    ap.add_argument("--data-dir", default=os.environ.get("HIR_FMNIST_DIR",
                                                         "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--calib", type=int, default=60000, help="training images used to calibrate")
    ap.add_argument("--out", default=os.path.join(HERE, "fmnist-tiny/int8/model.hirm"))
    args = ap.parse_args()

    layers = load_layers(args.onnx)
    train = read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"), 16).reshape(-1, 784)
    q_layers = quantize(layers, train[: args.calib])
    blob = build_blob(q_layers, 784)
    with open(args.out, "wb") as f:
        f.write(blob)

    test = read_idx(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"), 16).reshape(-1, 784)
    labels = read_idx(os.path.join(args.data_dir, "t10k-labels-idx1-ubyte.gz"), 8)
    fp32 = fp32_forward(layers, test.astype(np.float64) / 255.0)[-1].argmax(axis=1)
    int8 = int8_forward(q_layers, test).argmax(axis=1)  # argmax picks the lowest index on ties
    macs = sum(L["w"].size for L in q_layers)
    print(f"wrote {args.out}: {len(blob)} bytes, crc32 0x{zlib.crc32(blob[16:]):08x}")
    for i, L in enumerate(q_layers):
        print(f"layer {i}: {L['w'].shape[1]}->{L['w'].shape[0]} relu={L['relu']} "
              f"in(scale={L['in_scale']:.6g}, zp={L['in_zp']}) "
              f"out(scale={L['out_scale']:.6g}, zp={L['out_zp']}) shifts {L['shift'].min()}..{L['shift'].max()}")
    print(f"arena bytes: {arena_bytes(q_layers, 784)}")
    print(f"MACs per inference: {macs}")
    print(f"fp32 test accuracy: {(fp32 == labels).mean() * 100:.2f} % ({(fp32 == labels).sum()}/10000)")
    print(f"int8 test accuracy: {(int8 == labels).mean() * 100:.2f} % ({(int8 == labels).sum()}/10000)")
    print(f"int8/fp32 agreement: {(int8 == fp32).mean() * 100:.2f} % ({(int8 == fp32).sum()}/10000)")


if __name__ == "__main__":
    main()
