"""Every user-facing text and page is a jinja2 template under templates/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2


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

    def render(self, name: str, /, **values: Any) -> str:
        return self.env.get_template(name).render(**values).strip()

    def names(self) -> list[str]:
        return self.env.list_templates()
