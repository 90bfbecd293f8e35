"""Safetensors read/write by hand, for the PyTorch parity reference.

What it is: the format parsed from its definition (8-byte little-endian header length, a JSON
header {name: {dtype, shape, data_offsets}}, then raw little-endian data), so the reference never
shares a parser with lmforge's C++ reader and never needs the `safetensors` package.
What it is not: a general library; it handles the dtypes the tests exchange (F64, F32, I32, I64,
F16, BF16 on read) and keeps whole files in memory.
"""

import json
import struct

import torch

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read(path):
    """Returns (tensors: dict name -> torch.Tensor (owned copy), metadata: dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError(f"{path}: header length {hlen} runs past the end of the file")
    header = json.loads(raw[8 : 8 + hlen].decode("utf-8"))
    data = memoryview(raw)[8 + hlen :]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = list(info["shape"])
        numel = 1
        for s in shape:
            numel *= s
        itemsize = torch.tensor([], dtype=dt).element_size()
        if end - begin != numel * itemsize or end > len(data):
            raise ValueError(f"{path}: tensor {name}: data_offsets {begin},{end} do not match shape {shape}")
        buf = bytearray(data[begin:end])
        if numel == 0:
            t = torch.zeros(shape, dtype=dt)
        else:
            t = torch.frombuffer(buf, dtype=dt).reshape(shape).clone()
        out[name] = t
    return out, meta


def write(path, tensors, metadata=None):
    """Writes dict name -> tensor (contiguous copies, sorted by name). Header padded to 8 bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _NAMES:
            raise ValueError(f"tensor {name}: unsupported dtype {t.dtype}")
        b = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
