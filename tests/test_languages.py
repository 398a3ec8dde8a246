"""Every text exists in every language, and each language's text reads the same values (docs/languages.md)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from jinja2 import meta

from bot.ops.templates import ELDER, LANGUAGES

ROOT = Path(__file__).resolve().parent.parent / "templates"


def names(lang: str) -> set[str]:
    folder = ROOT / lang
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def values_read(lang: str, name: str) -> set[str]:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / lang)), autoescape=True)
    source = (ROOT / lang / name).read_text()
    return set(meta.find_undeclared_variables(env.parse(source)))


def test_the_default_language_has_texts_and_english_is_one_of_the_languages() -> None:
    assert LANGUAGES[0] == "zh" and "en" in LANGUAGES
    assert len(names("zh")) > 200


@pytest.mark.parametrize("lang", LANGUAGES[1:])
def test_every_chinese_text_has_a_twin_and_no_language_has_a_text_chinese_lacks(lang: str) -> None:
    chinese, other = names("zh"), names(lang)
    assert sorted(chinese - other) == [], f"templates/{lang} lacks these"
    assert sorted(other - chinese) == [], f"templates/{lang} has these that templates/zh does not"


@pytest.mark.parametrize("lang", LANGUAGES[1:])
def test_each_twin_reads_the_same_values(lang: str) -> None:
    differ = {}
    for name in sorted(names("zh")):
        chinese, other = values_read("zh", name), values_read(lang, name)
        if chinese != other:
            differ[name] = (sorted(chinese - other), sorted(other - chinese))
    assert differ == {}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_elder_wording_replaces_a_text_that_exists_and_reads_no_value_it_lacks(lang: str) -> None:
    elder = {name.removeprefix(ELDER + "/") for name in names(lang) if name.startswith(ELDER + "/")
             and not Path(name).name.startswith("_")}  # a partial of its own (_menu.txt) replaces nothing
    assert elder, f"templates/{lang}/{ELDER} is empty"
    plain = {name for name in names(lang) if not name.startswith(ELDER + "/")}
    assert sorted(elder - plain) == []
    extra = {name: sorted(values_read(lang, f"{ELDER}/{name}") - values_read(lang, name)) for name in elder}
    assert {name: values for name, values in extra.items() if values} == {}
