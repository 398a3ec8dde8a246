"""`healthbot admin …`: the operator's commands. Each parses, runs one operation of bot/admin on the services
the server uses (in dev mode, the running dev server's store), and prints what came of it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import command, fail, moment, whole, with_services
from bot.domain.colours import HEALTH_COLOURS
from bot.features.imports import DOC_TYPES

if TYPE_CHECKING:
    from bot.engine.services import Services
    from bot.features.imports import CsvImport, Imported

DOC_TYPE_HELP = f"one of {', '.join(DOC_TYPES)}"


async def _import(what: str, csv_import: CsvImport[Any], services: Services, file: str) -> Imported[Any] | None:
    """The import run and its count printed; None (after one line) when the file cannot be read."""
    from bot.features.imports import BadFile

    try:
        imported = await csv_import.run(services.redis, Path(file), services.clock.time())
    except BadFile as exc:
        fail(str(exc))
        return None
    skipped = f", {imported.skipped} older than 14 days skipped" if imported.skipped else ""
    print(f"imported {len(imported.stored)} {what}, {imported.bad} bad rows reported above{skipped}")
    return imported


def cmd_status(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.imports import Admin
        from bot.features.imports import BadRow

        admin = Admin(services)
        if args.action == "import":
            imported = await _import("rows", admin.status_import(Path(args.file).name), services, args.file)
            return 0 if imported else 2
        try:
            row = admin.parse_status(args.doc_type, args.doc_no, args.colour, args.reason_code, args.reason)
        except BadRow as exc:
            return fail(f"{exc}; nothing changed")
        was = await admin.set_status(row)
        if was is None:
            print(f"{args.doc_type} was already {args.colour}: nothing changed, nobody told")
        else:
            print(f"set {args.doc_type} {was} -> {args.colour}; the holder and guardians will be told; audited")
        return 0

    with_services(args, work)


def cmd_travel(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.imports import Admin

        return 0 if await _import("travel records", Admin(services).travel_import(), services, args.file) else 2

    with_services(args, work)


def cmd_risk_cities(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        registry = services.travel.registry
        if args.action == "set":
            await registry.set_risk_cities([c.strip() for c in args.cities if c.strip()])
        cities = sorted(await registry.risk_cities())
        print(f"{len(cities)} cities with medium- or high-risk areas: {'、'.join(cities) or '(none)'}")
        return 0

    with_services(args, work)


def cmd_results(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.imports import Admin

        admin = Admin(services)
        imported = await _import("results", admin.results_import(), services, args.file)
        if imported is None:
            return 2
        for line in await admin.after_results(imported, Path(args.file).name):
            print(line)
        return 0

    with_services(args, work)


def cmd_plugin_import(args: argparse.Namespace) -> None:
    """`healthbot admin NAME import FILE` for a plugin's import (bot/features/plugins.py)."""
    async def work(services: Services) -> int:
        service = services.plugin(args.plugin_class)
        return 0 if await _import("rows", args.make_import(service), services, args.file) else 2

    with_services(args, work)


def cmd_appeals(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        import getpass

        from bot.admin.appeals import line, listed, shown
        from bot.usecases.appeals import CannotAnswer, answer

        if args.action == "list":
            appeals = await listed(services, args.open)
            for appeal in appeals:
                print(line(appeal))
            print(f"{len(appeals)} {'open ' if args.open else ''}appeals")
            return 0
        if args.action == "show":
            appeal = await services.appeals.get(args.ticket.upper())
            if appeal is None:
                return fail(f"no appeal {args.ticket}", 1)
            print("\n".join(await shown(services, appeal)))
            return 0
        if args.accept == args.reject:
            return fail("say --accept or --reject")
        try:
            done = await answer(services, args.ticket.upper(), args.accept, args.colour or "", args.note,
                                f"operator:{getpass.getuser()}")
        except CannotAnswer as exc:
            return fail(f"{exc}", 1)
        print(f"{done.ticket} {done.state}{f', colour set {done.set_colour}' if done.set_colour else ''}; "
              "the appellant and guardians will be told; audited")
        return 0

    with_services(args, work)


def cmd_audit(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.domain.clock import to_second
        from bot.features.imports import BadRow, document

        if args.doc_type or args.doc_no:
            try:
                doc_type, number = document(args.doc_type or "", args.doc_no or "", services.clock.now().date())
            except BadRow as exc:
                return fail(f"{exc}")
            entries = await services.audit.about(services.codes.profiles.doc_index(doc_type, number)[:24])
            print(f"{len(entries)} audit entries about this {doc_type}")
        else:
            entries = await services.audit.latest(args.count)
        for f in entries:
            try:
                reason = f"  reason: {f['reason']}" if f.get("reason") else ""
                other = f"  from user {f['other'][:16]}" if f.get("other") else ""
                who = f["who"] if ":" in f["who"] else f["who"][:16]  # an actor (operator:login) or a pseudonym
                print(f"{to_second(float(f['at']))}  {f['action']:<8} user {who}  on {f['relative'][:24]}"
                      f"{other}  ({f['stream_id']}){reason}")
            except (KeyError, ValueError, OverflowError, OSError):  # written by a bug or another release
                print(f"(entry {f.get('stream_id', '?')} cannot be shown: its fields are not an audit entry's)")
        return 0

    with_services(args, work)


def cmd_venue(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.venues import BadVenue, add_rotating_venue, add_venue, parse_stay
        from bot.wechat.api import WeChatAPIError

        if args.action == "add":
            name, address = args.name.strip(), args.address.strip()
            try:
                stay = parse_stay(args.stay)
                if args.rotate:
                    venue, link = await add_rotating_venue(services, name, address, stay)
                    shown = f"a new code every day; a visit without 离场 lasts {venue.stay // 60} min)\nscreen: {link}"
                else:
                    venue, poster = await add_venue(services, name, address, Path(args.out), stay)
                    shown = f"a visit without 离场 lasts {venue.stay // 60} min)\nposter: {poster}"
            except BadVenue as exc:
                return fail(f"{exc}; nothing was stored")
            except WeChatAPIError as exc:
                stored = "; the venue is stored, and its screen asks again" if args.rotate else ""
                return fail(f"WeChat refused the venue's QR code: {exc}{stored}", 1)
            print(f"venue {venue.scene}  {venue.name}  ({shown}")
            return 0
        if args.action == "disable":
            if not await services.venues.disable(args.scene):
                return fail(f"no venue {args.scene}", 1)
            print(f"disabled {args.scene}: its scans now get 「该场所码已停用」")
            return 0
        venues = await services.venues.all()
        for venue in venues:
            kind = "daily   " if venue.rotate else "printed "
            print(f"{venue.scene}  {'active  ' if venue.active else 'disabled'}  {kind}{venue.name}  {venue.address}")
        if not venues:
            print("no venues yet: add one with `healthbot admin venue add NAME ADDRESS`")
        return 0

    with_services(args, work)


def window_shown(at: float) -> str:
    from bot.domain.clock import to_second

    try:
        return to_second(at)
    except (ValueError, OverflowError, OSError):  # a year the clock cannot show (0001, 9999 + a day)
        return "the retained days' edge"


def cmd_trace(args: argparse.Namespace) -> None:
    async def work(services: Services) -> int:
        from bot.admin.trace import NoSuchTemplate, export, notice_template, notify, person_visits, shown
        from bot.features.imports import BadRow

        if args.action == "person":
            try:
                visits = await person_visits(services, args.doc_type, args.doc_no, args.days)
            except BadRow as exc:
                return fail(str(exc))
            for at, name, scene in visits:
                print(f"{at}  {name}  {scene}")
            return 0
        if args.action == "contacts":
            return await trace_contacts(services, args)
        venue = await services.venues.get(args.venue)
        if venue is None:
            return fail(f"no venue {args.venue}", 1)
        start, end = moment(args.start, "--from"), moment(args.to, "--to", end=True)
        if start > end:
            return fail(f"--from {args.start} is after --to {args.to}")
        if getattr(args, "export", None) and not args.reason.strip():
            return fail("--export needs --reason (it is written to the audit stream)")
        template = ""
        if args.action == "notify":
            try:
                template = notice_template(services, args.text_template)
            except NoSuchTemplate as exc:
                return fail(str(exc))
        print(f"window: {window_shown(start)} to {window_shown(end)} (Shanghai time)")
        entries = await services.venues.entries(venue.scene, start, end, services.clock.time(), venue.stay)
        if args.action == "notify":
            done = await notify(services, entries, template, venue.name)
            print(f"notified {done.sent} followers; {done.outside_window} not reachable (no message from them in "
                  f"48 h: reach them another way); {done.failed} failed")
            if done.stopped:
                return fail(f"stopped early, {done.untold} not told: Redis failed ({done.stopped}); running "
                            "notify again tells the first ones twice", 1)
            return 0
        for row in map(shown, entries):
            print(f"{row.at} to {row.until} ({row.stay})  {row.name}  {row.document}  {row.whose}")
        print(f"{len(entries)} entries at {venue.name} ({venue.scene})")
        if args.export:
            try:
                await export(services, venue.scene, entries, Path(args.export), args.reason.strip())
            except OSError as exc:
                return fail(f"cannot write {args.export}: {exc.strerror}; nothing exported", 1)
            print(f"exported {len(entries)} full records to {args.export}; audited")
        return 0

    with_services(args, work)


async def trace_contacts(services: Services, args: argparse.Namespace) -> int:
    """`admin trace contacts`: who overlapped the case at each venue it visited, grouped by visit."""
    from bot.admin.trace import NoSuchTemplate, contacts, export, notice_template, notify, shown
    from bot.domain.clock import parse_duration, to_second
    from bot.features.imports import BadRow

    try:
        overlap = parse_duration(args.overlap)
    except ValueError as exc:
        return fail(f"--overlap {exc}")
    if args.export and not args.reason.strip():
        return fail("--export needs --reason (it is written to the audit stream)")
    template = ""
    if args.notify:
        try:
            template = notice_template(services, args.notify)
        except NoSuchTemplate as exc:
            return fail(str(exc))
    try:
        case, groups = await contacts(services, args.doc_type, args.doc_no, args.days, overlap)
    except BadRow as exc:
        return fail(str(exc))
    everyone = [entry for group in groups for entry in group.entries]
    for group in groups:
        stay = group.visit
        print(f"{stay.venue} ({stay.scene}): the case {to_second(stay.at)} to {to_second(stay.until)} "
              f"({'离场' if stay.left else 'default stay'}), {len(group.entries)} contacts")
        for row in map(shown, group.entries):
            print(f"  {row.at} to {row.until} ({row.stay})  {row.name}  {row.document}  {row.whose}")
    people = {(e.record["t"], e.record["d"]) for e in everyone}
    print(f"{len(people)} people in {len(everyone)} entries at {len(groups)} visits of the case "
          f"(overlap {overlap // 60} min, {args.days} days)")
    if args.export:
        try:
            await export(services, f"contacts of {case[:24]}", everyone, Path(args.export), args.reason.strip())
        except OSError as exc:
            return fail(f"cannot write {args.export}: {exc.strerror}; nothing exported", 1)
        print(f"exported {len(everyone)} full records to {args.export}; audited")
    if template:
        for group in groups:
            done = await notify(services, group.entries, template, group.visit.venue)
            print(f"{group.visit.venue}: notified {done.sent} followers; {done.outside_window} not reachable; "
                  f"{done.failed} failed")
            if done.stopped:
                return fail(f"stopped early, {done.untold} not told: Redis failed ({done.stopped})", 1)
    return 0


def add_commands(sub: Any) -> None:
    admin = sub.add_parser("admin", help="operator commands (CLI only)").add_subparsers(dest="area", required=True)
    status = admin.add_parser("status", help="set or import health-code colours").add_subparsers(
        dest="action", required=True)
    status_set = command(status, "set", cmd_status, "set one person's colour")
    status_set.add_argument("--doc-type", required=True, help=DOC_TYPE_HELP)
    status_set.add_argument("--doc-no", required=True)
    status_set.add_argument("colour", choices=HEALTH_COLOURS)
    status_set.add_argument("--reason-code", default="",
                            help="a code of the reason catalogue ([reasons]); needed for yellow and red")
    status_set.add_argument("--reason", default="", help="the operator's own words, kept sealed")
    command(status, "import", cmd_status, "import colours from CSV: doc_type,doc_no,colour,reason_code,reason"
            ).add_argument("file")
    travel = admin.add_parser("travel", help="travel-card records").add_subparsers(dest="action", required=True)
    command(travel, "import", cmd_travel, "import from CSV: phone,city,date,overseas,colour").add_argument("file")
    risk = admin.add_parser("risk-cities", help="cities that now have medium- or high-risk areas (starred)"
                            ).add_subparsers(dest="action", required=True)
    command(risk, "set", cmd_risk_cities, "replace the list").add_argument("cities", nargs="*")
    command(risk, "show", cmd_risk_cities, "print the list")
    results = admin.add_parser("results", help="nucleic-acid test results").add_subparsers(
        dest="action", required=True)
    command(results, "import", cmd_results,
            "import from CSV: doc_type,doc_no,result,sampled_at,reported_at,institution").add_argument("file")
    audit = command(admin, "audit", cmd_audit, "show the audit stream: binds, unbinds, offline codes")
    audit.add_argument("--count", type=whole(1, 10_000), default=50)
    audit.add_argument("--doc-type", help=f"with --doc-no: every entry about one person ({DOC_TYPE_HELP})")
    audit.add_argument("--doc-no")
    appeals = admin.add_parser("appeals", help="申诉: citizens' appeals against a colour").add_subparsers(
        dest="action", required=True)
    command(appeals, "list", cmd_appeals, "list appeals, oldest first").add_argument(
        "--open", action="store_true", help="only those not answered")
    command(appeals, "show", cmd_appeals, "one appeal in full, with the colour history").add_argument("ticket")
    resolve = command(appeals, "resolve", cmd_appeals, "answer an appeal: it is told to the appellant and guardians")
    resolve.add_argument("ticket")
    resolve.add_argument("--accept", action="store_true")
    resolve.add_argument("--reject", action="store_true")
    resolve.add_argument("--colour", choices=HEALTH_COLOURS, help="with --accept: set this colour (reason appeal)")
    resolve.add_argument("--note", required=True, help="the answer the citizen reads")
    _venue_commands(admin)
    _trace_commands(admin)
    _plugin_commands(admin)


def _venue_commands(admin: Any) -> None:
    venue = admin.add_parser("venue", help="场所码: venues and their posters").add_subparsers(dest="action",
                                                                                          required=True)
    venue_add = command(venue, "add", cmd_venue, "create a venue's QR with WeChat and an A4 poster")
    venue_add.add_argument("name")
    venue_add.add_argument("--address", default="")
    venue_add.add_argument("--out", default="posters", help="folder for the poster PNG")
    venue_add.add_argument("--rotate", choices=["daily"], help="a new QR every day (temporary codes, shown by a "
                           "stable URL on a screen) instead of a printed permanent one")
    venue_add.add_argument("--stay", default="2h",
                           help="how long a visit lasts when nobody replies 离场: 2h, 90m, 1h30m")
    command(venue, "list", cmd_venue, "list venues")
    command(venue, "disable", cmd_venue, "stop a venue's QR from registering").add_argument("scene")


def _trace_commands(admin: Any) -> None:
    trace = admin.add_parser("trace", help="流调: entries at venues").add_subparsers(dest="action", required=True)
    trace_venue = command(trace, "venue", cmd_trace, "who entered a venue in a window (masked)")
    trace_notify = command(trace, "notify", cmd_trace, "send a notice to everyone who entered")
    for each in (trace_venue, trace_notify):
        each.add_argument("venue", help="the venue's scene, as `admin venue list` shows it")
        each.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD[ HH:MM[:SS]]")
        each.add_argument("--to", required=True, help="YYYY-MM-DD[ HH:MM[:SS]]; a date alone: the end of that day")
    trace_venue.add_argument("--export", help="write the full records to this CSV file (needs --reason)")
    trace_venue.add_argument("--reason", default="", help="why the records are exported (audited)")
    trace_notify.add_argument("--text-template", required=True, help="a template in templates/trace/, e.g. exposure")
    case = command(trace, "contacts", cmd_trace, "时空伴随: who overlapped a case's stays at the venues it visited")
    case.add_argument("--doc-type", required=True, help=DOC_TYPE_HELP)
    case.add_argument("--doc-no", required=True)
    case.add_argument("--days", type=whole(1, 3650), default=14)
    case.add_argument("--overlap", default="30m", help="widen the case's stays by this on each side: 30m, 1h, 0m")
    case.add_argument("--export", help="write the contacts' full records to this CSV file (needs --reason)")
    case.add_argument("--reason", default="", help="why the records are exported (audited)")
    case.add_argument("--notify", help="a template in templates/trace/ to send to every contact, e.g. exposure")
    person = command(trace, "person", cmd_trace, "the venues a person entered")
    person.add_argument("--doc-type", required=True, help=DOC_TYPE_HELP)
    person.add_argument("--doc-no", required=True)
    person.add_argument("--days", type=whole(1, 3650), default=14)


def _plugin_commands(admin: Any) -> None:
    """`admin NAME import FILE` for each plugin's imports, run on the plugin's service."""
    from bot.features.installed import PLUGINS

    for plugin in PLUGINS:
        for name, make_import in plugin.imports.items():
            group = admin.add_parser(name, help=f"{plugin.name}: CSV import").add_subparsers(dest="action",
                                                                                           required=True)
            each = command(group, "import", cmd_plugin_import, f"import {name} from CSV")
            each.add_argument("file")
            each.set_defaults(plugin_class=plugin.service, make_import=make_import)
