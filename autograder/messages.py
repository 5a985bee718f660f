"""Feedback text in Portuguese (default) and English.

Checks raise or record a `Message` (a key and parameters); the report stage renders it
in the language asked for, so one grading run can be reported in either language. The
texts live in `locale/*.toml` (`common.toml`, plus one file per module for its diagnoses):
`[key]` tables with `pt` and `en` format strings.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LOCALE = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("pt", "en")


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALE.glob("*.toml")):
        for key, templates in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if key in texts:
                raise ValueError(f"{path.name}: message {key!r} is defined twice")
            texts[key] = templates
    return texts


@dataclass(frozen=True)
class Message:
    key: str
    params: dict = field(default_factory=dict)

    def render(self, language: str = "pt") -> str:
        templates = catalog().get(self.key)
        if templates is None:
            return f"{self.key}: {self.params}"
        try:
            return templates.get(language, templates["en"]).format(**self.params)
        except (KeyError, ValueError, IndexError):
            return f"{templates['en']} {self.params}"

    def to_json(self) -> dict:
        return {"key": self.key, "params": self.params}

    @classmethod
    def from_json(cls, data: dict) -> Message:
        return cls(data["key"], dict(data.get("params", {})))


def render_all(messages, language: str) -> str:
    return "; ".join(message.render(language) for message in messages)
