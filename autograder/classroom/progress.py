"""Progress of `grade-all` on stderr: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class PlainProgress:
    """One line per event, with the counts and the estimated time left (logs, CI, redirected stderr)."""

    def __init__(self, total: int, stream=None):
        self.total, self.stream, self.started = total, stream or sys.stderr, time.monotonic()
        self.done = self.running = self.failed = 0
        self.done_at_start: int | None = None

    def update(self, *, done: int, running: int, failed: int) -> None:
        if self.done_at_start is None:
            self.done_at_start = done
        self.done, self.running, self.failed = done, running, failed

    def eta(self) -> str:
        finished = self.done - (self.done_at_start or 0)
        if not finished:
            return "?"
        seconds = (time.monotonic() - self.started) / finished * (self.total - self.done)
        return f"{seconds:.0f} s"

    def log(self, line: str) -> None:
        print(
            f"[{self.done}/{self.total}] {line}  (running {self.running}, failed {self.failed}, ETA {self.eta()})",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        print(
            f"[{self.done}/{self.total}] {time.monotonic() - self.started:.0f} s, failed {self.failed}",
            file=self.stream,
            flush=True,
        )


class RichProgress:
    """A bar with students done, running, failed and the estimated time left."""

    def __init__(self, total: int):
        self.progress = Progress(
            TextColumn("[bold]grade-all[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("running {task.fields[running]}  [red]failed {task.fields[failed]}[/red]"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.progress.add_task("students", total=total, running=0, failed=0)
        self.progress.start()

    def update(self, *, done: int, running: int, failed: int) -> None:
        self.progress.update(self.task, completed=done, running=running, failed=failed)

    def log(self, line: str) -> None:
        self.progress.console.print(escape(line))

    def close(self) -> None:
        self.progress.stop()


class NoProgress(PlainProgress):
    def log(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_display(total: int, enabled: bool = True):
    if not enabled:
        return NoProgress(total)
    return RichProgress(total) if sys.stderr.isatty() else PlainProgress(total)
