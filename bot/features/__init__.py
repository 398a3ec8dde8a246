"""Feature services: each owns its store, its upstream and its rules, and is built in one place
(bot/engine/services.py's `build_services`) for the server, the operator commands and the dev tools alike.

The core features have a field each in `Services`. A further service is a `Plugin` listed in `PLUGINS`
(bot/features/installed.py): it builds its own service from the shared parts, may name a config section of
its own and a CSV import, and is found with `services.plugin(ItsClass)` (docs/architecture.md, "Add a service").
"""
