"""Standard torch modules a check can hand to student code, described as plain data.

The grader builds e.g. a `torch.nn.RNNCell` with known weights, sends its *spec*
(class name, constructor arguments, state dict, dtype) and the child rebuilds the same
module. Only the classes below can be described; anything else stays a handle.
"""

from __future__ import annotations

_CONSTRUCTOR_ARGS = {
    "RNNCell": ("input_size", "hidden_size", "bias", "nonlinearity"),
    "GRUCell": ("input_size", "hidden_size", "bias"),
    "LSTMCell": ("input_size", "hidden_size", "bias"),
    "RNN": ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first", "bidirectional"),
    "GRU": ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "bidirectional"),
    "LSTM": ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "bidirectional", "proj_size"),
    "Linear": ("in_features", "out_features"),
    "LogSoftmax": ("dim",),
    "Softmax": ("dim",),
    "Sigmoid": (),
    "Tanh": (),
}


def module_spec(obj):
    """A plain-data description of a standard torch module, or None for anything else."""
    cls = type(obj)
    if cls.__module__.split(".")[:2] != ["torch", "nn"] or cls.__name__ not in _CONSTRUCTOR_ARGS:
        return None
    kwargs = {}
    for name in _CONSTRUCTOR_ARGS[cls.__name__]:
        value = getattr(obj, name, None)
        if name == "bias" and not isinstance(value, bool):
            value = getattr(obj, "bias_ih", getattr(obj, "bias_ih_l0", value)) is not None
        kwargs[name] = value
    if cls.__name__ == "Linear":
        kwargs["bias"] = obj.bias is not None
    state = {key: value.detach().cpu() for key, value in obj.state_dict().items()}
    dtype = next((str(v.dtype).removeprefix("torch.") for v in state.values()), "float32")
    return {
        "class": cls.__name__,
        "kwargs": kwargs,
        "state_dict": state,
        "dtype": dtype,
        "training": bool(obj.training),
    }


def build_module(spec: dict):
    """Rebuild a module from `module_spec`'s output (used in the child)."""
    import torch

    name = spec["class"]
    if name not in _CONSTRUCTOR_ARGS:
        raise ValueError(f"module {name} cannot be rebuilt")
    module = getattr(torch.nn, name)(**spec["kwargs"])
    module = module.to(getattr(torch, spec["dtype"]))
    module.load_state_dict(spec["state_dict"])
    module.train(spec["training"])
    return module
