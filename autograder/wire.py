"""Data-only messages between the grader and the child process that runs student code.

A message is a JSON header followed by raw array buffers. Only plain data crosses:
None, bool, int, float, str, lists, tuples, str-keyed dicts, numeric numpy arrays and
torch tensors (sent as arrays, rebuilt as CPU tensors), and *specs* of a few standard
torch modules (rebuilt only on the child's side). Decoding never unpickles anything, so
whatever the child sends can at worst be wrong data, never code.
"""
from __future__ import annotations

import json
import struct

import numpy as np

_DTYPES = {name: np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64")}
_HEADER = struct.Struct("!II")  # json length, number of buffers
MAX_MESSAGE_BYTES = 1 << 30


class WireError(ValueError):
    """Something that is not plain data was sent, or a message is malformed."""


class Handle:
    """A reference to an object that stays in the child (a model, a class instance)."""

    def __init__(self, ident: int, type_name: str):
        self.ident, self.type_name = ident, type_name

    def __repr__(self):
        return f"<{self.type_name} in the student's process>"


def _torch():
    import torch
    return torch


def _is_tensor(obj) -> bool:
    return type(obj).__module__.startswith("torch") and type(obj).__name__ in ("Tensor", "Parameter")


def _array_ref(array: np.ndarray, buffers: list, kind: str) -> dict:
    if array.dtype.name not in _DTYPES:
        raise WireError(f"unsupported array dtype {array.dtype}")
    buffers.append(array.tobytes(order="C"))
    return {"__array__": len(buffers) - 1, "dtype": array.dtype.name,
            "shape": list(array.shape), "kind": kind}


def _encode(obj, buffers: list, handles, depth: int = 0):
    if depth > 50:
        raise WireError("data nested too deeply")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return {"__float__": repr(float(obj))}
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _array_ref(obj, buffers, "ndarray")
    if _is_tensor(obj):
        tensor = obj.detach().to("cpu")
        if tensor.dtype == _torch().bfloat16:
            tensor = tensor.float()
        return _array_ref(tensor.numpy(), buffers, "tensor")
    if isinstance(obj, (list, tuple)):
        items = [_encode(item, buffers, handles, depth + 1) for item in obj]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if isinstance(obj, dict):
        if not all(isinstance(key, str) for key in obj):
            raise WireError("dict keys must be strings")
        return {"__dict__": {key: _encode(value, buffers, handles, depth + 1)
                             for key, value in obj.items()}}
    if isinstance(obj, Handle):
        return {"__handle__": obj.ident, "type": obj.type_name}
    if hasattr(type(obj), "__wire_handle__"):
        ident, type_name = obj.__wire_handle__()
        return {"__handle__": ident, "type": type_name}
    from .modules import module_spec
    spec = module_spec(obj)
    if spec is not None:
        return {"__module__": _encode(spec, buffers, handles, depth + 1)}
    if handles is not None:
        return {"__handle__": handles(obj), "type": type(obj).__name__}
    raise WireError(f"cannot send an object of type {type(obj).__name__}")


def _decode(node, buffers: list, resolve_handle, build_modules: bool):
    if isinstance(node, list):
        return [_decode(item, buffers, resolve_handle, build_modules) for item in node]
    if not isinstance(node, dict):
        return node
    if "__float__" in node:
        return float(node["__float__"])
    if "__tuple__" in node:
        return tuple(_decode(item, buffers, resolve_handle, build_modules) for item in node["__tuple__"])
    if "__dict__" in node:
        return {str(key): _decode(value, buffers, resolve_handle, build_modules)
                for key, value in node["__dict__"].items()}
    if "__array__" in node:
        return _decode_array(node, buffers)
    if "__handle__" in node:
        ident = node["__handle__"]
        if not isinstance(ident, (int, str)) or isinstance(ident, bool):
            raise WireError("malformed handle in message")
        return resolve_handle(ident, str(node.get("type", "object")))
    if "__module__" in node and build_modules:
        from .modules import build_module
        return build_module(_decode(node["__module__"], buffers, resolve_handle, build_modules))
    raise WireError("unknown node in message")


def _decode_array(node: dict, buffers: list):
    dtype = _DTYPES.get(node.get("dtype"))
    shape = node.get("shape")
    index = node.get("__array__")
    if dtype is None or not isinstance(shape, list) or not isinstance(index, int) \
            or not 0 <= index < len(buffers) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise WireError("malformed array in message")
    count = int(np.prod(shape, dtype=np.int64))
    if count * dtype.itemsize != len(buffers[index]):
        raise WireError("array size does not match its shape")
    array = np.frombuffer(buffers[index], dtype=dtype).reshape(shape).copy()
    if node.get("kind") == "tensor":
        return _torch().from_numpy(array)
    return array


def encode(obj, handles=None) -> bytes:
    """Serialise `obj`; `handles(obj) -> int` turns non-data objects into handles (child side)."""
    buffers: list[bytes] = []
    header = json.dumps(_encode(obj, buffers, handles)).encode()
    parts = [_HEADER.pack(len(header), len(buffers)), header]
    for buffer in buffers:
        parts += [struct.pack("!Q", len(buffer)), buffer]
    return b"".join(parts)


def decode(data: bytes, resolve_handle=None, build_modules: bool = False):
    """Inverse of `encode`. Module specs are rebuilt only when `build_modules` (child side)."""
    try:
        header_len, n_buffers = _HEADER.unpack_from(data, 0)
        offset = _HEADER.size
        header = json.loads(data[offset:offset + header_len])
        offset += header_len
        buffers = []
        for _ in range(n_buffers):
            (size,) = struct.unpack_from("!Q", data, offset)
            offset += 8
            buffers.append(data[offset:offset + size])
            offset += size
    except (struct.error, ValueError, UnicodeDecodeError) as error:
        raise WireError(f"malformed message: {error}") from None
    resolve = resolve_handle or (lambda ident, type_name: Handle(ident, type_name))
    return _decode(header, buffers, resolve, build_modules)


def write_frame(stream, data: bytes) -> None:
    stream.write(struct.pack("!Q", len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream) -> bytes:
    """Read one length-prefixed frame; EOFError when the other side has gone."""
    head = _read_exact(stream, 8)
    (size,) = struct.unpack("!Q", head)
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {size} bytes is over the limit")
    return _read_exact(stream, size)


def _read_exact(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
