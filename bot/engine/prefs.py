"""A user's preferences: the language the bot speaks to them, 长辈模式 for themselves, and the relatives whose
codes they asked to be drawn in 长辈模式 (为亲属开启长辈模式 N). One short string in Redis (Keys.prefs), read by
the turn script with the dialog, so knowing them costs no round trip."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bot.ops.templates import LANGUAGES, Templates, Texts, language_of

_ELDER = "+elder"
RELATIVE_MARK = 16  # characters of a relative's document index kept: an HMAC, so no two people share them


@dataclass(frozen=True, slots=True)
class Prefs:
    lang: str = LANGUAGES[0]
    elder: bool = False
    elder_relatives: frozenset[str] = frozenset()  # marks (RELATIVE_MARK) of relatives' document indexes
    stored: bool = field(default=False, compare=False)  # read from Redis: the user chose, Chinese included

    def encode(self) -> bytes:
        relatives = "|" + ",".join(sorted(self.elder_relatives)) if self.elder_relatives else ""
        return (self.lang + (_ELDER if self.elder else "") + relatives).encode()

    @classmethod
    def decode(cls, value: bytes | str | None) -> Prefs:
        text = value.decode(errors="replace") if isinstance(value, bytes) else (value or "")
        own, _, relatives = text.partition("|")
        lang, _, rest = own.partition("+")
        return cls(language_of(lang), elder="+" + rest == _ELDER,
                   elder_relatives=frozenset(filter(None, relatives.split(","))), stored=bool(text))

    def texts(self, texts: Texts) -> Templates:
        """The user's texts among `texts`: their language, in 长辈模式's wording when it is on."""
        return texts.of(self.lang, self.elder)

    def elder_for(self, doc_index: str) -> bool:
        return doc_index[:RELATIVE_MARK] in self.elder_relatives

    def with_relative(self, doc_index: str, on: bool) -> Prefs:
        mark = doc_index[:RELATIVE_MARK]
        marks = self.elder_relatives | {mark} if on else self.elder_relatives - {mark}
        return replace(self, elder_relatives=frozenset(marks))


DEFAULT = Prefs()
