"""The plugins this deployment runs: add a new service's `Plugin` here (docs/architecture.md, "Add a service")."""

from __future__ import annotations

from bot.features import sites, vaccination
from bot.features.plugins import Plugin

PLUGINS: list[Plugin] = [vaccination.PLUGIN, sites.PLUGIN]
