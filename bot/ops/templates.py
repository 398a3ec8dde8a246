"""Every user-facing text and page is a jinja2 template under templates/<language>/, the same names in each
language (tests/test_languages.py holds them to it); templates/<language>/elder/ holds the 长辈模式 wording of
those texts that have one, and the plain text stands for the rest; templates/common/ holds what has no words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta

KEPT_TEXTS = 4096
_SCALARS = (str, int, float, bool, type(None))
_MISSING = object()  # a value the caller left out: never kept, so StrictUndefined still fails the render


def _plain_key(name: str, used: tuple[str, ...], values: dict[str, Any]) -> tuple[Any, ...] | None:
    """A key when every value the template uses is a scalar or a list of scalars, so equal keys mean equal
    texts; else None. Values the template never reads are left out: they cannot change the text.

    Types are part of the key (True == 1, but they render differently)."""
    parts: list[Any] = [name]
    for field in used:
        value = values.get(field, _MISSING)
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
    def __init__(self, *folders: str | Path) -> None:
        """`folders`: searched in order; the first that holds a name gives its template."""
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
        )
        self._kept: dict[tuple[Any, ...], str] = {}
        self._used: dict[str, tuple[str, ...] | None] = {}

    def render(self, name: str, /, **values: Any) -> str:
        # A template here is a pure function of its values (no globals), and jinja spends ~30 µs a render:
        # texts of plain values are kept, which makes a dialog's fixed prompts nearly free.
        if name not in self._used:
            self._used[name] = self._find_names_used(name)
        used = self._used[name]
        key = None if used is None else _plain_key(name, used, values)
        if key is None:
            return self.env.get_template(name).render(**values).strip()
        text = self._kept.get(key)
        if text is None:
            if len(self._kept) >= KEPT_TEXTS:
                self._kept.clear()
            text = self._kept[key] = self.env.get_template(name).render(**values).strip()
        return text

    def has(self, name: str) -> bool:
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        return True

    def _find_names_used(self, name: str) -> tuple[str, ...] | None:
        """The values `name` reads, with what it includes; None when an include is only known at render."""
        assert self.env.loader is not None  # noqa: S101 - set in __init__
        source = self.env.loader.get_source(self.env, name)[0]
        tree = self.env.parse(source)
        used = set(meta.find_undeclared_variables(tree)) - set(self.env.globals)
        for included in meta.find_referenced_templates(tree):
            inner = None if included is None else self._find_names_used(included)
            if inner is None:
                return None
            used.update(inner)
        return tuple(sorted(used))


LANGUAGES = ("zh", "en")  # the first is the default: a user who never chose, an operator's tool
ELDER = "elder"  # the 长辈模式 folder inside a language's
COMMON = "common"  # what pages share whatever the language: markup, style and scripts, no words


def language_of(value: str | None) -> str:
    """One of LANGUAGES from a stored choice or a WeChat language ("en", "zh_CN"); the default otherwise."""
    head = (value or "").strip().lower()[:2]
    return head if head in LANGUAGES else LANGUAGES[0]


def language_from_header(header: str | None) -> str:
    """The language a browser's Accept-Language prefers most among LANGUAGES (q-values honoured)."""
    best, best_q = LANGUAGES[0], -1.0
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower()[:2]
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if lang in LANGUAGES and q > best_q:  # the first of equal weight wins
            best, best_q = lang, q
    return best


class Texts:
    """Every language's templates, and each one's 长辈模式 wording over it."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        self._by: dict[tuple[str, bool], Templates] = {}
        for lang in LANGUAGES:
            if (root / lang).is_dir():
                self._by[lang, False] = Templates(root / lang, root / COMMON)
                self._by[lang, True] = Templates(root / lang / ELDER, root / lang, root / COMMON)
        if (LANGUAGES[0], False) not in self._by:
            raise FileNotFoundError(f"{root / LANGUAGES[0]} holds no templates")

    def of(self, lang: str = LANGUAGES[0], elder: bool = False) -> Templates:
        return self._by.get((lang, elder)) or self._by[LANGUAGES[0], elder]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in LANGUAGES if (lang, False) in self._by)
