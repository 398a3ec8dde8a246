"""核酸采样点 near me: the testing sites operators import (`healthbot admin sites import FILE`), the nearest to a
location a citizen sends, or those of a district they name (docs/sites.md)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.features.imports import BadRow, CsvImport
from bot.features.plugins import Kit, Plugin
from bot.ops.config import within
from storage import Pipeline
from storage.sites import Site, SiteRegistry


@dataclass
class SitesSettings:
    nearest: int = within(5, 1, 20)  # how many sites a location gets
    radius_km: float = within(50.0, 1, 500)  # none farther than this
    listed: int = within(10, 1, 50)  # how many a district gets


def _bounded(value: str, what: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadRow(f"{what} must be a number") from None
    if not low <= number <= high:
        raise BadRow(f"{what} must be between {low:g} and {high:g}")
    return number


def _text(value: str, what: str, longest: int, required: bool = True) -> str:
    text = value.strip()
    if (required and not text) or len(text) > longest or not text.isprintable():
        raise BadRow(f"{what} must be {'1' if required else '0'} to {longest} printable characters")
    return text


@dataclass
class SitesService:
    registry: SiteRegistry
    settings: SitesSettings

    def csv_import(self) -> CsvImport[Site]:
        """`healthbot admin sites import FILE`: name,address,lng,lat,hours,notes (notes may be empty)."""
        def parse(row: list[str], now: float) -> Site:
            return Site(_text(row[0], "name", 60), _text(row[1], "address", 100),
                        _bounded(row[2], "lng", -180, 180), _bounded(row[3], "lat", -85, 85),
                        _text(row[4], "hours", 40), _text(row[5] if len(row) > 5 else "", "notes", 100, False))

        def queue(pipe: Pipeline, site: Site) -> None:
            self.registry.queue_add(pipe, site)

        return CsvImport(("name", "address", "lng", "lat", "hours", "notes"), 5, parse, queue)

    async def nearest(self, lng: float, lat: float) -> list[tuple[Site, float]]:
        return await self.registry.nearest(lng, lat, self.settings.nearest, self.settings.radius_km)

    async def in_district(self, words: str) -> list[Site]:
        return await self.registry.matching(words, self.settings.listed)


def build(kit: Kit, section: SitesSettings) -> SitesService:
    return SitesService(SiteRegistry(kit.redis, kit.keys), section)


PLUGIN = Plugin(name="sites", service=SitesService, build=build, section=SitesSettings,
                imports={"sites": SitesService.csv_import})
