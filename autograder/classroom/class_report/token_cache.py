"""copydetect's tokenized code (names replaced, comments dropped) kept per text in
RESULTS_DIR/.class-cache/, so a rebuilt class report lexes only code that changed: lexing is
most of the similarity check's time. Keyed by the text and the copydetect and pygments versions;
entries no build used are removed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ...grading.report import write_text_atomically

CACHE = ".class-cache"


def _versions() -> str:
    import copydetect
    import pygments

    return f"copydetect {copydetect.__version__}, pygments {pygments.__version__}"


class TokenCache:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.used: set[Path] = set()
        self.versions = _versions()

    def filtered(self, code: str) -> tuple[str, np.ndarray]:
        """(copydetect.utils.filter_code's code and offsets) for `code`, as a Python file."""
        from copydetect.utils import filter_code

        path = self._path(code)
        if path is not None and path.is_file():
            self.used.add(path)
            data = json.loads(path.read_text(encoding="utf-8"))
            return data["filtered"], np.array(data["offsets"], dtype=np.int64)
        filtered, offsets = filter_code(code, "answer.py", "python")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomically(json.dumps({"filtered": filtered, "offsets": offsets.tolist()}), path)
            self.used.add(path)
        return filtered, offsets

    def prune(self) -> None:
        """Remove the entries that no lookup since this cache was opened used."""
        if self.folder is not None and self.folder.is_dir():
            for path in self.folder.glob("*.json"):
                if path not in self.used:
                    path.unlink(missing_ok=True)

    def _path(self, code: str) -> Path | None:
        if self.folder is None:
            return None
        key = hashlib.sha256(f"{self.versions}\0{code}".encode("utf-8", "surrogatepass")).hexdigest()
        return self.folder / f"{key}.json"
