"""``higgsfield models``: list the catalog's models, show one's arguments, refresh the catalog."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from .._sync import SyncClient
from ._output import Console, write_json

if TYPE_CHECKING:
    from rich.console import Console as Screen

    from higgsfield_proto import ModelArgument, ModelEntry, Price

MODELS_EPILOG = """\
examples:
  higgsfield models                          # every model: kind, price, where it is known from
  higgsfield models --kind video --json
  higgsfield models show kling-video/v2.1/pro/image-to-video
  higgsfield models refresh                  # fetch the published OpenAPI document, print the drift

The catalog ships with the SDK (a snapshot of the published schemas); `refresh` stores a fresher
document in the cache directory (HIGGSFIELD_CACHE_DIR, else the platform's user cache), and the
library uses it from then on. A document that is malformed or partial is refused (exit 1) and the
cache is left as it was. None of these commands needs credentials.
"""


def add_models_parser(
    add: Callable[..., argparse.ArgumentParser], common: List[argparse.ArgumentParser]
) -> None:
    """Add ``models``, ``models show`` and ``models refresh`` through the main parser's ``add``;
    the subcommands also take the ``common`` options."""
    models = add("models", "list the models of the catalog (show one, refresh the catalog)")
    models.epilog = MODELS_EPILOG
    models.add_argument("--kind", metavar="KIND", help="only models of this kind (image, video)")
    commands = models.add_subparsers(dest="models_command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help,
            description=help,
            parents=common,
            epilog=MODELS_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    show = command("show", "a model's arguments: types, allowed values, defaults; its price and source")
    show.add_argument("model", help="the model id")
    refresh = command("refresh", "fetch the published OpenAPI document into the cache; print the drift")
    refresh.add_argument(
        "--from",
        dest="url",
        metavar="URL",
        help="where to fetch it (default: the API's published document)",
    )


def run_models(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Run ``models``, ``models show`` or ``models refresh``; returns the exit code."""
    if options.models_command == "show":
        return _show(client, options.model, console)
    if options.models_command == "refresh":
        return _refresh(client, options.url, console)
    return _list(client, options.kind, console)


def price_text(price: Optional[Price]) -> str:
    """``1.5 credits ($0.09375) per image``, or "" when the price is not known."""
    if price is None:
        return ""
    return f"{price.credits} credits (${price.usd.normalize()}) per {price.per}"


def _list(client: SyncClient, kind: Optional[str], console: Console) -> int:
    entries = client.models.list(kind=kind)
    if console.json:
        write_json(console.out, [_summary(entry) for entry in entries])
        return 0
    if console.out_screen is not None:
        _table(console.out_screen, entries, client.models.catalog.date)
        return 0
    for entry in entries:
        checked = "" if entry.checked else "  (arguments unchecked)"
        price = price_text(entry.price)
        console.line(f"{entry.model_id}  {entry.kind}" + (f"  {price}" if price else "") + checked)
    return 0


def _summary(entry: ModelEntry) -> Dict[str, Any]:
    return {
        "id": entry.model_id,
        "kind": entry.kind,
        "checked": entry.checked,
        "required": [argument.name for argument in entry.arguments() if argument.required],
        "price": None if entry.price is None else {
            "credits": str(entry.price.credits), "usd": str(entry.price.usd), "per": entry.price.per
        },
        "source": entry.source,
        "date": entry.date,
    }  # fmt: skip


def _table(screen: Screen, entries: tuple[ModelEntry, ...], date: str) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"models of the catalog of {date}", title_justify="left")
    table.add_column("model")
    table.add_column("kind")
    table.add_column("required")
    table.add_column("price", justify="right")
    for entry in entries:
        required = ", ".join(argument.name for argument in entry.arguments() if argument.required)
        table.add_row(
            Text(entry.model_id),
            entry.kind,
            Text(required if entry.checked else "unchecked", style="" if entry.checked else "dim"),
            Text(price_text(entry.price)),
        )
    screen.print(table)


def _show(client: SyncClient, model_id: str, console: Console) -> int:
    entry = client.models.get(model_id)
    arguments = entry.arguments()
    if console.json:
        document = _summary(entry)
        document["note"] = entry.note
        document["arguments"] = [_argument_document(argument) for argument in arguments]
        write_json(console.out, document)
        return 0
    console.line(f"{entry.model_id} ({entry.kind})")
    console.line(f"source: {entry.source} ({entry.date})")
    if entry.price is not None:
        console.line(f"price: {price_text(entry.price)} - {entry.price.source}")
    if entry.note:
        console.line(f"note: {entry.note}")
    if not entry.checked:
        console.line("arguments: not known; any arguments are submitted unchecked")
        return 0
    if console.out_screen is not None:
        _arguments_table(console.out_screen, arguments)
        return 0
    for argument in arguments:
        parts = [_type_text(argument), "required" if argument.required else "optional"]
        allowed = argument.allowed()
        if allowed:
            parts.append(allowed)
        if argument.has_default:
            parts.append(f"default {json.dumps(argument.default)}")
        console.line(f"  {argument.name}: {'; '.join(parts)}")
    return 0


def _type_text(argument: ModelArgument) -> str:
    if argument.item_type:
        return f"{argument.type} of {argument.item_type}"
    return argument.type or "any"


def _argument_document(argument: ModelArgument) -> Dict[str, Any]:
    document: Dict[str, Any] = {
        "name": argument.name,
        "type": _type_text(argument),
        "required": argument.required,
        "allowed": argument.allowed(),
        "choices": list(argument.choices),
    }
    if argument.has_default:
        document["default"] = argument.default
    if argument.description:
        document["description"] = argument.description
    return document


def _arguments_table(screen: Screen, arguments: tuple[ModelArgument, ...]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table()
    table.add_column("argument")
    table.add_column("type")
    table.add_column("required")
    table.add_column("allowed values")
    table.add_column("default")
    for argument in arguments:
        table.add_row(
            Text(argument.name),
            _type_text(argument),
            "yes" if argument.required else "",
            Text(argument.allowed()),
            Text(json.dumps(argument.default) if argument.has_default else ""),
        )
    screen.print(table)


def _refresh(client: SyncClient, url: Optional[str], console: Console) -> int:
    result = client.models.refresh(url) if url else client.models.refresh()
    lines = result.drift.lines()
    count = len(result.catalog.models)
    if console.json:
        write_json(
            console.out,
            {
                "source": result.source,
                "date": result.date,
                "path": str(result.path),
                "models": count,
                "previous": result.previous,
                "drift": list(lines),
            },
        )
        return 0
    console.note(f"stored the document from {result.source} in {result.path}")
    if not lines:
        console.line(f"no change from {result.previous}; {count} models")
        return 0
    console.line(f"changes from {result.previous}:")
    for line in lines:
        console.line(f"  {line}")
    console.line(f"{count} models")
    return 0
