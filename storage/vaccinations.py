"""The local vaccination registry (疫苗接种记录): each document's doses, sealed, keyed by the document's HMAC
index. Operators load it with `healthbot admin vaccinations import FILE.csv`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from storage.connection import HotClient, Pipeline, RedisClient
from storage.keys import Keys
from storage.status import Reader
from storage.vault import Vault

LEAF = "vaccinations"
KEEP_DAYS = 3 * 365  # a person's doses expire this long after the last import that wrote one (docs/vaccination.md)


@dataclass(frozen=True, slots=True)
class Dose:
    dose: int  # 1 for the first dose, and so on
    vaccine: str
    date: str  # YYYY-MM-DD, the day it was given
    institution: str


class VaccinationRegistry:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, reads: HotClient | None = None) -> None:
        """`reads`: the lean client for the reads every code view makes (storage/resp.py)."""
        self.redis, self.keys, self.vault = redis, keys, vault
        self.reads = reads or redis

    def queue_add(self, pipe: Pipeline, doc_index: str, dose: Dose) -> None:
        """One dose, written with an import's batch; importing the same dose again replaces it."""
        key = self.keys.of_document(doc_index, LEAF)
        pipe.hset(key, str(dose.dose), self.vault.seal_json(asdict(dose), context=doc_index))
        pipe.expire(key, KEEP_DAYS * 86400)

    async def doses(self, doc_index: str, read: Reader | None = None) -> list[Dose]:
        """Every dose recorded, in order. `read`: a turn's reader (the turn's first script may have it)."""
        stored = await (read or self.reads.hgetall)(self.keys.of_document(doc_index, LEAF))
        doses = [Dose(**self.vault.open_json(blob, context=doc_index)) for blob in stored.values()]
        return sorted(doses, key=lambda d: d.dose)
