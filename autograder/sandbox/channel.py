"""The grader's end of the pipes to a child: length-prefixed frames, deadlines both ways.

Nothing the child does can make the grader wait past a deadline or hold more than
`max_frame` bytes of one reply: writes are non-blocking (a child that stops reading costs
its time limit, not a hung grader), a frame's length is checked before its bytes are read.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time


class ChannelError(Exception):
    """Why a frame could not cross: 'timeout', 'closed' or 'too_large' (with the size)."""

    def __init__(self, kind: str, size: int = 0):
        super().__init__(kind)
        self.kind, self.size = kind, size


class Channel:
    def __init__(self, write_fd: int, read_fd: int, max_frame: int):
        self.write_fd, self.read_fd, self.max_frame = write_fd, read_fd, max_frame
        os.set_blocking(write_fd, False)

    def send(self, payload: bytes, deadline: float) -> None:
        data = memoryview(len(payload).to_bytes(8, "big") + payload)
        with selectors.DefaultSelector() as selector:
            selector.register(self.write_fd, selectors.EVENT_WRITE)
            while data:
                _wait(selector, deadline)
                try:
                    written = os.write(self.write_fd, data[: 1 << 20])
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError):
                    raise ChannelError("closed") from None
                data = data[written:]

    def receive(self, deadline: float) -> bytearray:
        size = int.from_bytes(self._read_exact(8, deadline), "big")
        if size > self.max_frame:
            raise ChannelError("too_large", size)
        return self._read_exact(size, deadline)

    def _read_exact(self, size: int, deadline: float) -> bytearray:
        buffer, filled = bytearray(size), 0
        view = memoryview(buffer)
        with selectors.DefaultSelector() as selector:
            selector.register(self.read_fd, selectors.EVENT_READ)
            while filled < size:
                _wait(selector, deadline)
                count = os.readv(self.read_fd, [view[filled : filled + (1 << 20)]])
                if not count:
                    raise ChannelError("closed")
                filled += count
        return buffer

    def close(self) -> None:
        for fd in (self.write_fd, self.read_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def _wait(selector, deadline: float) -> None:
    timeout = deadline - time.monotonic()
    if timeout <= 0 or not selector.select(timeout):
        raise ChannelError("timeout")
