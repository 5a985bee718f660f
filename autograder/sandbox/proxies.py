"""What the checks hold of student code: proxies whose calls and attribute reads run in the
child (or in a notebook's kernel), and the peer that decodes the replies as untrusted data.

`RemoteModule` / `RemoteObject` turn `student.rnn_step(...)` into a request; a `Peer`
(`sandbox.StudentProcess`, or `notebook.LocalPeer`) carries it and decodes the reply under
the wire's caps; what the reply claims is checked here (argument digests, text lengths,
the from-scratch watch's report) before a check sees it. A failure of student code is a
`StudentFailure`.
"""

from __future__ import annotations

from . import wire

MAX_TEXT = 2000  # characters kept of any text the child sends (messages, warnings)


class StudentFailure(Exception):
    """Student code failed: kind is 'exception', 'timeout', 'crash' or 'protocol'
    ('internal': the grader could not start the child; not the student's fault)."""

    def __init__(self, kind: str, exc_type: str = "", message: str = "", traceback: str = ""):
        super().__init__(f"{kind}: {exc_type}: {message}")
        self.kind, self.exc_type, self.message, self.traceback = kind, exc_type, message, traceback
        self.case = None  # the label of the case it was raised on (`cases.Case`), when known


class Peer:
    """The side that runs student code, as the proxies see it: requests in, replies decoded."""

    generation = 0
    last_mutated: list = []  # noqa: RUF012  (replaced per reply, never changed in place)
    last_warnings: list[str] = []  # noqa: RUF012
    student_seconds = 0.0  # inside student functions, as the child measured it
    request_seconds = 0.0  # round trips of requests, as the grader measured them
    scratch = None  # the running exercise's from-scratch watch (autograder/exercises/scratch.py)

    def student_request(self, message: dict, sent: dict | None = None):
        """A request that runs student code: watched when the exercise is from scratch."""
        if self.scratch is not None:
            message = {**message, "watch": self.scratch.spec()}
        return self.request(message, sent)

    def alive(self) -> bool:
        raise NotImplementedError

    def start_exercise(self, module: str | None = None) -> None:
        """Make `module`'s names callable and start one exercise's time budget."""

    def names_of(self, module: str | None) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def interpret(self, raw: bytes, sent: dict | None = None) -> dict:
        """Decode a reply: its value (student objects become RemoteObjects), or StudentFailure.

        For a call, `sent` holds the digests of the array arguments as the grader sent them:
        the grader, not the child, decides which of them came back changed (or not at all).
        """
        try:
            reply = wire.decode(raw, resolve_handle=lambda i, t: RemoteObject(self, i, t), limits=wire.REPLY)
        except wire.WireError as error:
            self.close()
            raise StudentFailure("protocol", message=str(error)[:MAX_TEXT]) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise StudentFailure("protocol", message="malformed reply")
        if self.scratch is not None:
            self.scratch.verify(reply)  # raises ScratchViolation
        if isinstance(reply.get("seconds"), float):
            self.student_seconds += reply["seconds"]
        if not reply["ok"]:
            error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
            raise StudentFailure(
                "exception",
                *(
                    _text(error.get(key, default))
                    for key, default in (("type", "Exception"), ("message", ""), ("traceback", ""))
                ),
            )
        if sent is not None:
            returned = reply.get("digests") if isinstance(reply.get("digests"), dict) else {}
            self.last_mutated = [label for label, digest in sent.items() if returned.get(label) != digest]
            warnings = reply.get("warnings") if isinstance(reply.get("warnings"), list) else []
            self.last_warnings = sorted({_text(w, 200) for w in warnings})[:20]
        return reply

    def call(self, target, args: list, kwargs: dict, trap_overflow: bool = False):
        """Call a function in the child; its value. `trap_overflow`: a floating-point overflow
        inside the call kills the child (SIGFPE), which the grader sees from outside."""
        message = {"op": "call", "target": target, "args": list(args), "kwargs": kwargs}
        if trap_overflow:
            message["trap"] = "overflow"
        sent = wire.digests(wire.labelled(message["args"], kwargs))
        return self.student_request(message, sent)["value"]


def _text(value, limit: int = MAX_TEXT) -> str:
    return str(value)[:limit]


class RemoteObject:
    """An object living in the child: attribute reads return data, calls run there."""

    def __init__(self, process: Peer, ident, type_name: str):
        object.__setattr__(self, "_process", process)
        object.__setattr__(self, "_ident", ident)
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_generation", process.generation)

    def _check_alive(self):
        if self._process.generation != self._generation or not self._process.alive():
            raise StudentFailure("crash", message="the student's process was restarted")

    def __call__(self, *args, **kwargs):
        self._check_alive()
        return self._process.call(self._ident, list(args), kwargs)

    def trapping_overflow(self, *args, **kwargs):
        """The call, with floating-point overflow trapped (see `Peer.call`)."""
        self._check_alive()
        return self._process.call(self._ident, list(args), kwargs, trap_overflow=True)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._check_alive()
        return self._process.student_request({"op": "getattr", "target": self._ident, "name": name})["value"]

    def __setattr__(self, name, value):
        self._check_alive()
        self._process.student_request({"op": "setattr", "target": self._ident, "name": name, "value": value})

    def __wire_handle__(self):
        self._check_alive()
        return self._ident, self._type_name

    def __repr__(self):
        return f"<{self._type_name} in the student's process>"


class RemoteModule:
    """A student's module as seen from the grader (`module` None: the peer's only namespace)."""

    def __init__(self, process: Peer, module: str | None = None):
        self._process, self._module = process, module

    def _handle(self, name: str) -> str:
        return f"{self._module}:{name}" if self._module else name

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        process = self._process
        if not process.alive():
            process.start_exercise(self._module)
        if name not in process.names_of(self._module):
            raise StudentFailure("missing", "AttributeError", name)
        return RemoteObject(process, self._handle(name), name)

    def get(self, name: str):
        """The value of a module-level constant (e.g. ALPHABET), as data."""
        getattr(self, name)
        return self._process.request({"op": "getattr", "target": self._handle(name), "name": None})["value"]

    @property
    def mutated_inputs(self) -> list:
        """Which arguments the last call changed in place (positions or keyword names)."""
        return self._process.last_mutated

    @property
    def warnings(self) -> list[str]:
        """Warnings the last call emitted."""
        return self._process.last_warnings
