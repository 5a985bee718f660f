"""The data-only channel: round trips, and what it refuses to carry."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from autograder.sandbox import wire


def test_round_trip_of_plain_data():
    data = {
        "a": [1, 2.5, float("nan"), None, True, "é"],
        "t": (np.arange(6.0).reshape(2, 3),),
        "tensor": torch.ones(2, 2, dtype=torch.float64),
        "int": np.int64(3),
        "scalar": np.array(2.0),
    }
    back = wire.decode(wire.encode(data))
    assert back["a"][:2] == [1, 2.5] and np.isnan(back["a"][2]) and back["a"][3:] == [None, True, "é"]
    assert isinstance(back["t"], tuple) and np.array_equal(back["t"][0], data["t"][0])
    assert isinstance(back["tensor"], torch.Tensor) and back["tensor"].dtype == torch.float64
    assert back["int"] == 3 and back["scalar"].shape == ()


def test_objects_are_refused_or_become_handles():
    class Custom:
        pass

    with pytest.raises(wire.WireError):
        wire.encode(Custom())
    kept = []
    back = wire.decode(wire.encode({"model": Custom()}, handles=lambda obj: kept.append(obj) or len(kept)))
    assert isinstance(back["model"], wire.Handle) and back["model"].type_name == "Custom"


def test_object_arrays_are_refused():
    with pytest.raises(wire.WireError, match="dtype"):
        wire.encode(np.array([object()], dtype=object))


def test_torch_modules_travel_as_specs_and_are_rebuilt_only_on_request():
    cell = torch.nn.RNNCell(3, 4).double()
    message = wire.encode(cell)
    with pytest.raises(wire.WireError):
        wire.decode(message)  # the grader's side never builds modules from a message
    rebuilt = wire.decode(message, build_modules=True)
    assert isinstance(rebuilt, torch.nn.RNNCell)
    x = torch.randn(2, 3, dtype=torch.float64)
    assert torch.equal(rebuilt(x), cell(x))


def _message(header: dict, buffers=()) -> bytes:
    raw = json.dumps(header).encode()
    parts = [struct.pack("!II", len(raw), len(buffers)), raw]
    for buffer in buffers:
        parts += [struct.pack("!Q", len(buffer)), buffer]
    return b"".join(parts)


@pytest.mark.parametrize(
    "header, buffers",
    [
        ({"__array__": 0, "dtype": "float64", "shape": [3]}, [b"\0" * 8]),  # size mismatch
        ({"__array__": 0, "dtype": "object", "shape": [1]}, [b"\0" * 8]),  # forbidden dtype
        ({"__array__": 5, "dtype": "float64", "shape": [1]}, [b"\0" * 8]),  # no such buffer
        ({"__module__": {"class": "RNNCell"}}, []),  # no rebuilding here
        ({"__pickle__": "gASV"}, []),  # unknown node
    ],
)
def test_malformed_messages_are_rejected(header, buffers):
    with pytest.raises(wire.WireError):
        wire.decode(_message(header, buffers))


def test_truncated_message_is_rejected():
    with pytest.raises(wire.WireError):
        wire.decode(wire.encode([1, 2, 3])[:5])
