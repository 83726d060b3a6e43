"""Command line: `triagebot <command>` (also `python -m bot <command>`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.app import (
    build_classifier,
    build_conversation,
    build_engine,
    build_telegram,
    load_usable_content,
)
from bot.config import Config, ConfigError, load_config
from bot.console.chat import ConsoleChat
from bot.content.loader import ContentError, load_content
from bot.content.model import Lang
from bot.matching.decision import Decision
from bot.matching.engine import MatchingEngine
from bot.matching.evaluation import CasesError, evaluate, read_cases
from bot.telegram.runner import StartupError
from bot.tickets import billing_export
from bot.tickets.billing_export import Month
from bot.tickets.errors import StoreError
from bot.tickets.listing import closed_line, outbox_line, ticket_line, ticket_report
from bot.tickets.model import TicketStatus
from bot.tickets.outbox import Outbox
from bot.tickets.store import TicketStore
from bot.triage.events import Person

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
DEMO_CUSTOMER_ID = 1_000_001


def main(argv: Sequence[str] | None = None) -> int:
    """Run one triagebot command and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except (ConfigError, ContentError, CasesError, StoreError) as error:
        print(f"triagebot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`triagebot queue show 1001 | head`): stop quietly; point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triagebot",
        description="Customer self-service triage for a web hoster: FAQ matching, "
        "support tiers and handoff to humans.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="match one question against the FAQ content")
    _content_options(ask)
    ask.add_argument("--lang", choices=[lang.value for lang in Lang], help="customer language")
    ask.add_argument("--json", action="store_true", help="print JSON instead of text")
    ask.add_argument("question", help="the customer's question")
    ask.set_defaults(command=_ask)

    lint = commands.add_parser("lint", help="check the FAQ content and list every problem")
    _content_options(lint)
    lint.set_defaults(command=_lint)

    triage = commands.add_parser("triage", help="classify a request: standard|extended|unclear")
    _content_options(triage)
    triage.add_argument("--json", action="store_true", help="print JSON instead of text")
    triage.add_argument("message", help="the customer's request")
    triage.set_defaults(command=_triage)

    evaluate_ = commands.add_parser("eval", help="score matching and triage on labelled cases")
    _content_options(evaluate_)
    evaluate_.add_argument("--cases", type=Path, required=True, help="JSON lines file of cases")
    evaluate_.add_argument("--json", action="store_true", help="print JSON instead of text")
    evaluate_.set_defaults(command=_eval)

    _queue_parser(commands)
    _billing_parser(commands)

    demo = commands.add_parser(
        "demo",
        help="the bot in the terminal: you are the customer (no token, no network)",
        description="Chat with the bot as a customer. Buttons show as numbers: type the "
        "number to press one. /quit or Ctrl-D ends. Tickets land in the configured "
        "database, so `triagebot queue list` in another terminal shows them.",
    )
    demo.add_argument("--config", type=Path, help="TOML config file (default: built-in)")
    demo.add_argument("--name", default="Demo", help="the customer's first name (default Demo)")
    demo.add_argument(
        "--lang",
        choices=[lang.value for lang in Lang],
        help="the customer's client language (default: from $LANG)",
    )
    demo.set_defaults(command=_demo, content=None)

    run = commands.add_parser(
        "run",
        help="run the Telegram bot (polling or webhook, from [telegram] in the config)",
        description="Run the bot on Telegram. The token comes from [telegram] token or the "
        "env TRIAGEBOT_TELEGRAM_TOKEN; the staff group from [telegram] staff_chat_id. "
        "Content with errors is refused; SIGINT or SIGTERM stops the bot cleanly.",
    )
    run.add_argument("--config", type=Path, required=True, help="TOML config file")
    run.add_argument("--verbose", action="store_true", help="log every update and request")
    run.set_defaults(command=_run)
    return parser


def _queue_parser(commands: Any) -> None:
    queue = commands.add_parser("queue", help="work the support queue (tickets in the database)")
    queue.add_argument("--config", type=Path, help="TOML config file (default: built-in)")
    actions = queue.add_subparsers(required=True, metavar="ACTION")
    # SUPPRESS: a --config given before the action must survive the action's own default.
    config_option: dict[str, Any] = {
        "type": Path,
        "default": argparse.SUPPRESS,
        "help": "TOML config file (default: built-in)",
    }

    listing = actions.add_parser("list", help="one line per ticket")
    listing.add_argument("--status", choices=[status.value for status in TicketStatus])
    listing.add_argument("--config", **config_option)
    listing.set_defaults(command=_queue_list)

    show = actions.add_parser("show", help="everything about one ticket")
    show.add_argument("number", type=int, help="ticket number")
    show.add_argument("--config", **config_option)
    show.set_defaults(command=_queue_show)

    close = actions.add_parser("close", help="close a ticket, logging minutes and billing it")
    close.add_argument("number", type=int, help="ticket number")
    close.add_argument(
        "minutes", type=_minutes, nargs="?", default=0, help="minutes worked (default 0)"
    )
    close.add_argument("--config", **config_option)
    close.set_defaults(command=_queue_close)

    outbox = actions.add_parser(
        "outbox", help="deliveries waiting or failed (to customers, staff chat, sinks)"
    )
    outbox.add_argument("--all", action="store_true", help="also list delivered items")
    outbox.add_argument("--config", **config_option)
    outbox.set_defaults(command=_queue_outbox)


def _billing_parser(commands: Any) -> None:
    billing = commands.add_parser("billing", help="export the billed extended tickets of a month")
    billing.add_argument("--config", type=Path, help="TOML config file (default: built-in)")
    actions = billing.add_subparsers(required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="one row per billed ticket (or per customer) closed in a month",
        description="Export the extended tickets closed in a month (in the [sla] timezone) "
        "with their exact bills, as CSV or as a table. Standard tickets are free: not listed.",
    )
    export.add_argument(
        "--month",
        type=_month,
        required=True,
        metavar="YYYY-MM",
        help="the month the tickets were closed: YYYY-MM",
    )
    export.add_argument(
        "--format", choices=("csv", "table"), default="csv", help="output format (default csv)"
    )
    export.add_argument(
        "--by-customer", action="store_true", help="one row per customer and currency"
    )
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="write to this file (default: stdout)"
    )
    export.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="TOML config file (default: built-in)",
    )
    export.set_defaults(command=_billing_export)


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _minutes(text: str) -> int:
    try:
        minutes = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of minutes: {text!r}") from None
    if minutes < 0:
        raise argparse.ArgumentTypeError(f"minutes must not be negative: {minutes}")
    return minutes


def _content_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", type=Path, help="FAQ content folder (default: from config)")
    parser.add_argument("--config", type=Path, help="TOML config file (default: built-in)")


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config) if args.config else Config()


def _content_path(args: argparse.Namespace) -> Path:
    path: Path = args.content or _config(args).content_path
    return path


def _engine(args: argparse.Namespace) -> MatchingEngine:
    """Build the engine on the valid entries; tell on stderr which entries were left out."""
    config = _config(args)
    result = load_usable_content(config, args.content)
    if result.errors:
        print(
            f"triagebot: warning: {len(result.errors)} content error(s); the entries with"
            " errors are left out (run `triagebot lint` for details):",
            file=sys.stderr,
        )
        for problem in result.errors:
            print(f"  {problem}", file=sys.stderr)
    return build_engine(config, result)


def _ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    decision = engine.decide(args.question, Lang(args.lang) if args.lang else None)
    if args.json:
        _print_json(_decision_json(decision))
    else:
        print(_decision_text(decision))
    return EXIT_OK


def _decision_json(decision: Decision) -> dict[str, Any]:
    ranking = decision.ranking
    return {
        "question": ranking.question,
        "lang": ranking.lang.value,
        "decision": decision.kind.value,
        "id": decision.answer.entry.id if decision.answer else None,
        "offered": [c.entry.id for c in decision.offered],
        "candidates": [
            {
                "id": c.entry.id,
                "score": c.score,
                "title": c.entry.title,
                "url": c.entry.url,
                "tier": c.entry.tier.value,
                "matched": list(c.matched),
            }
            for c in ranking.candidates[:5]
        ],
        "notes": list(ranking.notes),
        "unknown_words": list(ranking.unknown),
    }


def _decision_text(decision: Decision) -> str:
    ranking = decision.ranking
    lines = [f"decision: {decision.kind.value}  (language: {ranking.lang.value})"]
    if decision.answer:
        entry = decision.answer.entry
        lines += [f"answer:   {entry.id}: {entry.title}", f"link:     {entry.url}"]
    elif decision.offered:
        lines.append("offered:  " + ", ".join(c.entry.id for c in decision.offered))
    lines.append("candidates:")
    lines.extend(
        f"  {c.score:.3f}  {c.entry.id}  [{c.entry.tier.value}]  matched: {', '.join(c.matched)}"
        for c in ranking.candidates[:5]
    )
    if ranking.notes:
        lines.append("why:")
        lines.extend(f"  {note}" for note in ranking.notes)
    if ranking.unknown:
        lines.append("unknown words: " + ", ".join(ranking.unknown))
    return "\n".join(lines)


def _lint(args: argparse.Namespace) -> int:
    result = load_content(_content_path(args))
    for problem in result.problems:
        print(problem)
    errors, warnings = len(result.errors), len(result.warnings)
    entries = len(result.content)
    print(f"{entries} entries, {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK


def _triage(args: argparse.Namespace) -> int:
    classifier = build_classifier(_engine(args))
    result = classifier.classify(args.message)
    if args.json:
        _print_json(
            {
                "message": args.message,
                "tier": result.verdict.value,
                "reasons": list(result.reasons),
            }
        )
    else:
        print(result.verdict.value)
        for reason in result.reasons:
            print(f"  because {reason}")
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    cases = read_cases(args.cases)
    engine = _engine(args)
    classifier = build_classifier(engine)
    report = evaluate(
        cases,
        decide_question=engine.decide,
        classify=lambda message: classifier.classify(message).verdict.value,
    )
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.to_text())
    return EXIT_OK


def _open_store(config: Config) -> TicketStore:
    if not config.database.exists():
        raise StoreError(
            f"{config.database}: no database yet; `triagebot demo` or `triagebot run`"
            " creates it with the first conversation"
        )
    return TicketStore.open(config.database, create=False)


def _zone(config: Config) -> ZoneInfo:
    return ZoneInfo(config.business_hours.timezone)


def _queue_list(args: argparse.Namespace) -> int:
    config = _config(args)
    status = TicketStatus(args.status) if args.status else None
    with _open_store(config) as store:
        tickets = store.tickets(status)
        if not tickets:
            print(f"no {status.value} tickets" if status else "no tickets")
        for ticket in tickets:
            print(ticket_line(ticket, store.customer(ticket.customer_id), _zone(config)))
    return EXIT_OK


def _queue_show(args: argparse.Namespace) -> int:
    config = _config(args)
    with _open_store(config) as store:
        ticket = store.ticket(args.number)
        print(
            ticket_report(
                ticket,
                customer=store.customer(ticket.customer_id),
                messages=store.messages(ticket.number),
                consents=store.consents_of_ticket(ticket.number),
                time_entries=store.time_entries(ticket.number),
                zone=_zone(config),
            )
        )
    return EXIT_OK


def _queue_close(args: argparse.Namespace) -> int:
    config = _config(args)
    with _open_store(config) as store:
        print(closed_line(store.close_ticket(args.number, args.minutes, config.tariff)))
    return EXIT_OK


def _queue_outbox(args: argparse.Namespace) -> int:
    config = _config(args)
    with _open_store(config) as store:
        items = Outbox(store).items(include_delivered=args.all)
        if not items:
            print("outbox empty: every delivery went out" if not args.all else "outbox empty")
        for item in items:
            print(outbox_line(item, _zone(config)))
    return EXIT_OK


def _billing_export(args: argparse.Namespace) -> int:
    config = _config(args)
    with _open_store(config) as store:
        tickets = billing_export.ticket_rows(store, args.month, _zone(config))
    rows: Sequence[billing_export.ExportRow] = tickets
    columns: Sequence[str] = billing_export.TICKET_COLUMNS
    if args.by_customer:
        rows = billing_export.customer_rows(tickets)
        columns = billing_export.CUSTOMER_COLUMNS
    try:
        with _output(args.output) as stream:
            if args.format == "csv":
                billing_export.write_csv(stream, columns, rows)
            else:
                stream.write(billing_export.table(columns, rows, args.month) + "\n")
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        where = args.output or "stdout"
        print(f"triagebot: {where}: cannot write: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """Yield stdout, or the file at `path` opened for text with no newline translation."""
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8", newline="") as stream:
        yield stream


def _demo(args: argparse.Namespace) -> int:
    config = _config(args)
    engine = _engine(args)
    person = Person(DEMO_CUSTOMER_ID, args.name, "demo", args.lang or _locale_language())
    with TicketStore.open(config.database) as store:
        chat = ConsoleChat(
            build_conversation(config, store, engine), person, print, ansi=sys.stdout.isatty()
        )
        print(
            f"triagebot demo: {len(engine.content)} FAQ entries, tickets in {config.database}."
            " Type a question; numbers press buttons; /quit ends.\n"
        )
        chat.say("/start")
        chat.run(_lines())
    return EXIT_OK


def _locale_language() -> str | None:
    """Return the language of the terminal's locale ($LANG such as de_DE.UTF-8), if any."""
    code = os.environ.get("LANG", "")[:2]
    return code if code.isalpha() and code.islower() else None


def _lines() -> Iterator[str]:
    echo = not sys.stdin.isatty()
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return
        if echo:
            print(line)
        yield line


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    with TicketStore.open(config.database) as store:
        runner = build_telegram(config, store)
        try:
            asyncio.run(runner.serve())
        except StartupError as error:
            print(f"triagebot: {error}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_OK


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
