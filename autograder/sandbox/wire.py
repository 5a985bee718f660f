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
from dataclasses import dataclass
from hashlib import sha256 as _sha256

import numpy as np

_DTYPES = {
    name: np.dtype(name)
    for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64")
}
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
    return {"__array__": len(buffers) - 1, "dtype": array.dtype.name, "shape": list(array.shape), "kind": kind}


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
        return {"__dict__": {key: _encode(value, buffers, handles, depth + 1) for key, value in obj.items()}}
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


@dataclass(frozen=True)
class Limits:
    """Caps on what one decoded message may cost (the grader's side decodes untrusted replies)."""

    header_bytes: int = 8 << 20  # the JSON header (every node and string is in it)
    nodes: int = 1_000_000  # lists, dicts, scalars and arrays in the header
    string_chars: int = 20_000  # longer strings are cut to this length
    array_bytes: int = MAX_MESSAGE_BYTES


UNLIMITED = Limits(header_bytes=MAX_MESSAGE_BYTES, nodes=1 << 62, string_chars=1 << 62)
REPLY = Limits()  # what the grader accepts from a child


class _Decoder:
    """One message's decoding: counts nodes and array bytes, lets each buffer be used once.
    `frozen`: arrays are read-only views of the message (numpy refuses in-place writes)."""

    def __init__(self, buffers: list, resolve_handle, build_modules: bool, limits: Limits, frozen: bool):
        self.buffers, self.resolve_handle, self.build_modules = buffers, resolve_handle, build_modules
        self.limits, self.frozen = limits, frozen
        self.nodes = self.array_bytes = 0
        self.used: set[int] = set()

    def node(self, node):
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise WireError(f"message has more than {self.limits.nodes} nodes")
        if isinstance(node, str):
            return node[: self.limits.string_chars]
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "__float__" in node:
            return float(node["__float__"])
        if "__tuple__" in node and isinstance(node["__tuple__"], list):
            return tuple(self.node(item) for item in node["__tuple__"])
        if "__dict__" in node and isinstance(node["__dict__"], dict):
            return {str(key)[: self.limits.string_chars]: self.node(value) for key, value in node["__dict__"].items()}
        if "__array__" in node:
            return self.array(node)
        if "__handle__" in node:
            ident = node["__handle__"]
            if not isinstance(ident, (int, str)) or isinstance(ident, bool):
                raise WireError("malformed handle in message")
            return self.resolve_handle(ident, str(node.get("type", "object"))[:200])
        if "__module__" in node and self.build_modules:
            from .modules import build_module

            return build_module(self.node(node["__module__"]))
        raise WireError("unknown node in message")

    def array(self, node: dict):
        """Shape and dtype checked against the buffer before any byte is copied."""
        dtype = _DTYPES.get(node.get("dtype")) if isinstance(node.get("dtype"), str) else None
        shape, index = node.get("shape"), node.get("__array__")
        if (
            dtype is None
            or not isinstance(shape, list)
            or not isinstance(index, int)
            or isinstance(index, bool)
            or not 0 <= index < len(self.buffers)
            or len(shape) > 32
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        ):
            raise WireError("malformed array in message")
        if index in self.used:
            raise WireError("an array buffer is referenced twice")
        self.used.add(index)
        count = 1
        for n in shape:
            count *= n
        if count * dtype.itemsize != len(self.buffers[index]):
            raise WireError("array size does not match its shape")
        self.array_bytes += count * dtype.itemsize
        if self.array_bytes > self.limits.array_bytes:
            raise WireError(f"arrays of more than {self.limits.array_bytes} bytes")
        array = np.frombuffer(self.buffers[index], dtype=dtype).reshape(shape)
        if node.get("kind") == "tensor":
            return _torch().from_numpy(array.copy())
        return array if self.frozen else array.copy()


def encode(obj, handles=None) -> bytes:
    """Serialise `obj`; `handles(obj) -> int` turns non-data objects into handles (child side)."""
    buffers: list[bytes] = []
    header = json.dumps(_encode(obj, buffers, handles)).encode()
    parts = [_HEADER.pack(len(header), len(buffers)), header]
    for buffer in buffers:
        parts += [struct.pack("!Q", len(buffer)), buffer]
    return b"".join(parts)


def decode(
    data: bytes, resolve_handle=None, build_modules: bool = False, limits: Limits = UNLIMITED, frozen: bool = False
):
    """Inverse of `encode`. Module specs are rebuilt only when `build_modules` (child side);
    `limits` caps what the message may cost; `frozen` arrays are read-only (the child's
    arguments: an in-place change raises there instead of going unnoticed)."""
    view = memoryview(data)
    try:
        header_len, n_buffers = _HEADER.unpack_from(view, 0)
        if header_len > limits.header_bytes:
            raise WireError(f"message header of {header_len} bytes is over the limit of {limits.header_bytes}")
        if n_buffers > limits.nodes:
            raise WireError(f"message has more than {limits.nodes} buffers")
        offset = _HEADER.size
        if offset + header_len > len(view):
            raise WireError("truncated message")
        header = json.loads(bytes(view[offset : offset + header_len]))
        offset += header_len
        buffers = []
        for _ in range(n_buffers):
            (size,) = struct.unpack_from("!Q", view, offset)
            offset += 8
            if offset + size > len(view):
                raise WireError("truncated message")
            buffers.append(view[offset : offset + size])
            offset += size
    except (struct.error, ValueError, UnicodeDecodeError, RecursionError) as error:
        if isinstance(error, WireError):
            raise
        raise WireError(f"malformed message: {str(error)[:200]}") from None
    resolve = resolve_handle or Handle
    try:
        return _Decoder(buffers, resolve, build_modules, limits, frozen).node(header)
    except RecursionError:
        raise WireError("data nested too deeply") from None


def labelled(args: list, kwargs: dict):
    """(label, value) pairs of a call's arguments, looking inside dicts, lists and tuples
    (a dict of arrays is one argument): label 0, 1, … or a keyword, then [key] / [index]."""
    return list(_flatten(list(enumerate(args)) + list(kwargs.items())))


def _flatten(pairs, depth: int = 0):
    for key, value in pairs:
        if isinstance(value, dict) and depth < 3:
            yield from _flatten([(f"{key}[{k!r}]", v) for k, v in value.items()], depth + 1)
        elif isinstance(value, (list, tuple)) and depth < 3:
            yield from _flatten([(f"{key}[{i}]", v) for i, v in enumerate(value)], depth + 1)
        else:
            yield str(key), value


def digests(
    pairs, *, sha256=_sha256, ndarray=np.ndarray, contiguous=np.ascontiguousarray, is_tensor=_is_tensor
) -> dict[str, str]:
    """A digest of each array or tensor among (label, value) pairs, as it travels on the wire:
    both sides compute it, the grader compares (an argument changed in place, or not returned).
    What it uses is bound at import (student code that replaces numpy's names changes nothing)."""
    found = {}
    for label, value in pairs:
        if isinstance(value, ndarray):
            array = value
        elif is_tensor(value):
            tensor = value.detach().to("cpu")
            array = (tensor.float() if tensor.dtype == _torch().bfloat16 else tensor).numpy()
        else:
            continue
        digest = sha256(f"{array.dtype.str}{array.shape}".encode())
        digest.update(contiguous(array).data if array.size else b"")
        found[label] = digest.hexdigest()
    return found


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
