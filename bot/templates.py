"""Every user-facing text and page is a jinja2 template under templates/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

KEPT_TEXTS = 4096
_SCALARS = (str, int, float, bool, type(None))


def _plain_key(name: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """A key when every value is a scalar or a list of scalars, so equal keys mean equal texts; else None.

    Types are part of the key (True == 1, but they render differently). Names keep the caller's order: a
    call site always passes them in one order, and another order only costs a second entry."""
    parts: list[Any] = [name]
    for field, value in values.items():
        kind = value.__class__
        if kind is list or kind is tuple:
            if not all(isinstance(item, _SCALARS) for item in value):
                return None
            value = tuple((item.__class__, item) for item in value)
        elif kind not in _SCALARS:
            return None
        parts += (field, kind, value)
    return tuple(parts)


class Templates:
    def __init__(self, directory: str | Path) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
        )
        self._kept: dict[tuple[Any, ...], str] = {}

    def render(self, name: str, /, **values: Any) -> str:
        # A template here is a pure function of its values (no globals), and jinja spends ~30 µs a render:
        # texts of plain values are kept, which makes a dialog's fixed prompts nearly free.
        key = _plain_key(name, values)
        if key is None:
            return self.env.get_template(name).render(**values).strip()
        text = self._kept.get(key)
        if text is None:
            if len(self._kept) >= KEPT_TEXTS:
                self._kept.clear()
            text = self._kept[key] = self.env.get_template(name).render(**values).strip()
        return text

    def names(self) -> list[str]:
        return self.env.list_templates()
