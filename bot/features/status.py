"""The colour of a code: the local registry operators set, and the provider that answers (the registry itself,
or an HTTP service) (docs/providers.md); the catalogue of reasons a colour has (docs/colours.md); and the one
way a colour changes, whatever the path: `change` (one) or `change_many` (an import).

A change is first named on the notice stream (its intent), then applied by one script; the sender tells the
holder and every guardian only about a change it finds applied (bot/usecases/notices.py). So a process that
dies between the two loses no notice and sends none for nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.clock import Clock
from bot.ops.config import ConfigError, Settings
from bot.upstreams.status import HealthStatus, LocalStatus, StatusProvider
from storage import write_batch
from storage.audit import AuditLog
from storage.notices import NoticeQueue
from storage.profiles import PersonOf
from storage.status import Change, Reader, StatusRegistry

# code -> the days a colour given for it lasts; 0: until cleared. Each has templates/reasons/<code>_label.txt
# and <code>_clears.txt. `[reasons]` in config changes a duration or adds a code.
DEFAULT_REASONS = {"contact": 10, "secondary_contact": 7, "risk_area": 3, "positive": 0, "missed_test": 0,
                   "inbound": 10, "manual": 0, "appeal": 0}
DAY = 86400
CODE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class UnknownReason(ValueError):
    """A colour that is not green, asked for without a reason code in the catalogue: one line naming it."""


@dataclass(frozen=True)
class Reasons:
    days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REASONS))

    def check(self, colour: str, code: str) -> str:
        """The code, checked: every colour but green needs one from the catalogue; green may have one."""
        code = code.strip()
        if code and code not in self.days:
            raise UnknownReason(f"reason code {code!r} is not in the catalogue ([reasons]: {', '.join(self.days)})")
        if not code and colour != "green":
            raise UnknownReason(f"a {colour} code needs a reason code from the catalogue ([reasons]: "
                                f"{', '.join(self.days)})")
        return code

    def until(self, code: str, at: float) -> float:
        """When a colour given at `at` for `code` lapses to green; 0: until cleared."""
        days = self.days.get(code, 0)
        return at + days * DAY if days else 0.0


def reasons_from(settings: Settings) -> Reasons:
    """The catalogue: the defaults, with `[reasons] CODE = DAYS` (0: until cleared) changing or adding codes."""
    days = dict(DEFAULT_REASONS)
    for code, (raw, origin) in settings.other.get("reasons", {}).items():
        if not CODE_RE.fullmatch(code):
            raise ConfigError(f"reasons.{code}: a reason code is lower-case letters, digits and _ ({origin})")
        try:
            value = int(raw) if not isinstance(raw, bool | float) else -1
        except ValueError:
            value = -1
        if not 0 <= value <= 3650:
            raise ConfigError(f"reasons.{code} must be the days it lasts, 0 (until cleared) to 3650, got {raw!r} "
                              f"({origin})")
        days[code] = value
    return Reasons(days)


def reason_templates(code: str) -> tuple[str, str]:
    """A reason's texts: its short label, and what clears it."""
    return f"reasons/{code}_label.txt", f"reasons/{code}_clears.txt"


@dataclass
class Status:
    registry: StatusRegistry
    provider: StatusProvider
    reasons: Reasons
    notices: NoticeQueue
    audit: AuditLog
    clock: Clock

    async def status(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> HealthStatus:
        """The colour now; raises ProviderUnavailable when it cannot be confirmed. A provider's new answer that
        differs from its last is a change like any other (channel provider)."""
        found = await self.provider.status(person, doc_index, read)
        if found.fresh:
            await self.change(doc_index, found.colour, found.code, "provider", "provider", until=found.until)
        return found

    @property
    def local(self) -> bool:
        """Whether the registry is the answer (no HTTP provider): then it can tell a colour without a holder."""
        return isinstance(self.provider, LocalStatus)

    def ask(self, colour: str, code: str, channel: str, actor: str, *, text: str = "", ticket: str = "",
            until: float | None = None) -> Change:
        """A change as asked, its code checked (UnknownReason) and its lapse set from the catalogue."""
        code = self.reasons.check(colour, code)
        at = self.clock.time()
        lapse = (self.reasons.until(code, at) if until is None else until) if colour != "green" else 0.0
        return Change(colour, code, channel, actor, at, lapse, text.strip()[:100], ticket)

    async def change(self, doc_index: str, colour: str, code: str, channel: str, actor: str, *, text: str = "",
                     ticket: str = "", until: float | None = None) -> str | None:
        """Set a colour: the colour it was, or None when it already was this one (nobody is told)."""
        asked = self.ask(colour, code, channel, actor, text=text, ticket=ticket, until=until)
        return (await self.change_many([(doc_index, asked)]))[0]

    async def change_many(self, changes: list[tuple[str, Change]], lapse: str = "") -> list[str | None]:
        """Apply checked changes in one pipelined batch: intents, lapses, the changes, then their audit entries.
        `lapse`: the rule turning a lapsed colour green (its change applies only to that `until`)."""
        if not changes:
            return []
        now = self.clock.time()
        ids = [secrets.token_hex(8) for _ in changes]
        await self.registry.ready()
        async with write_batch(self.registry.redis) as pipe:
            for (index, change), change_id in zip(changes, ids, strict=True):
                self.notices.queue_change(pipe, index, change_id)
                if change.until:
                    self.registry.queue_lapse(pipe, index, change.until)
            for (index, change), change_id in zip(changes, ids, strict=True):
                await self.registry.queue_change(pipe, index, change, change_id, now, lapse)
            answers = await pipe.execute()
        olds = [old.decode() if old else None for old in answers[-len(changes):]]
        async with write_batch(self.audit.redis) as pipe:
            for (index, change), change_id, old in zip(changes, ids, olds, strict=True):
                if old is not None:
                    self.audit.queue(pipe, "colour", change.actor, index[:24], repr(change.at), entry_id=change_id,
                                     reason=f"{old} -> {change.colour}, reason {change.code or '-'}, "
                                            f"via {change.channel}")
            await pipe.execute()
        return olds

    async def lapse_due(self, count: int = 100) -> int:
        """The rule: colours whose time has passed turn green, told like any change. How many turned."""
        turned = 0
        for index, until in await self.registry.lapsing(self.clock.time(), count):
            green = Change("green", "", "rule", "rule:lapsed", until)
            turned += (await self.change_many([(index, green)], lapse=repr(until)))[0] is not None
            await self.registry.lapsed(index, until)
        return turned
