"""``dejacache cache stats|delete|clear --store URL [--namespace NS]``: operator commands on a
persistent or shared store (SQLite, Redis, SQL databases).

``stats`` prints the entries and bytes of each namespace; ``delete`` removes one entry, named by
its key (``--key``, 32 hex digits) or by the request itself (``--request``, JSON or ``@file``);
``clear`` removes every entry of one namespace, or of all of them with ``--all``. On Redis a
delete or clear reaches the memory L1s of every running cache at once (pub/sub).

A password in the URL (or in the ``os.environ/NAME`` variable it names) is never printed: the
URL is shown as ``user:***@host`` and any error message is scrubbed of it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import orjson

HELP = "inspect or empty a persistent / shared store: stats, delete an entry, clear a namespace"


def safe_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (a plain path unchanged)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _secrets(url: str) -> list[str]:
    if "://" not in url:
        return []
    password = urlsplit(url).password
    return [] if not password else [p for p in {password, unquote(password), quote(password, safe="")} if p]


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (raw or percent-encoded) replaced by ``***``."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_ in (
        ("stats", "entries and bytes per namespace"),
        ("delete", "remove one entry (by --key or --request)"),
        ("clear", "remove every entry of --namespace (or of all namespaces with --all)"),
    ):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument(
            "--store",
            required=True,
            help="store URL or path: sqlite:///c.db, redis://[user:pw@]host:port/db, postgresql://..., "
            "or os.environ/NAME",
        )
        p.add_argument("--namespace", default=None, help="one namespace (stats: filter; delete: default 'default')")
        if name == "stats":
            p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if name == "delete":
            what = p.add_mutually_exclusive_group(required=True)
            what.add_argument("--key", help="the entry's key: 32 hex digits (Cache.key(request))")
            what.add_argument("--request", help="the request as JSON, or @file holding it")
        if name == "clear":
            p.add_argument("--all", action="store_true", help="clear every namespace (needed without --namespace)")


def _request_key(text: str) -> str:
    from .. import _core
    from .._controls import EXCLUDED_PARAMS

    if text.startswith("@"):
        with open(text[1:], "rb") as f:
            text = f.read().decode()
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise SystemExit(f"--request is not JSON ({exc}); pass the request object, or @file") from None
    return str(_core.KeySchema(list(EXCLUDED_PARAMS)).key(request))


def _stats(store: Any, namespace: str | None, as_json: bool, shown_url: str) -> None:
    rows = [(ns, c) for ns, c in store.stats() if namespace is None or ns == namespace]
    rows = [(ns, c) for ns, c in rows if c.get("entries", 0) or namespace is not None]
    if as_json:
        out = {ns: {"entries": c.get("entries", 0), "bytes": c.get("bytes", 0)} for ns, c in rows}
        print(orjson.dumps({"store": shown_url, "namespaces": out}, option=orjson.OPT_INDENT_2).decode())
        return
    print(f"store: {shown_url}")
    width = max([len("namespace")] + [len(ns) for ns, _ in rows])
    print(f"{'namespace':<{width}}  {'entries':>10}  {'bytes':>14}")
    for ns, c in rows:
        print(f"{ns:<{width}}  {c.get('entries', 0):>10,}  {c.get('bytes', 0):>14,}")
    total_e = sum(c.get("entries", 0) for _, c in rows)
    total_b = sum(c.get("bytes", 0) for _, c in rows)
    print(f"{'total':<{width}}  {total_e:>10,}  {total_b:>14,}")


def run(args: argparse.Namespace) -> int:
    from .._controls import check_namespace
    from ..stores import open_store, resolve_secret

    try:
        url = str(resolve_secret(args.store, "--store"))
    except ValueError as exc:
        print(f"dejacache cache: {exc}", file=sys.stderr)
        return 2
    shown = safe_url(url)
    if args.namespace is not None:
        try:
            check_namespace(args.namespace)
        except ValueError as exc:
            print(f"dejacache cache: --namespace: {exc}", file=sys.stderr)
            return 2
    if args.action == "clear" and args.namespace is None and not args.all:
        print("dejacache cache clear: name a --namespace, or pass --all to clear every namespace", file=sys.stderr)
        return 2
    key = None
    if args.action == "delete":
        key = _request_key(args.request) if args.request is not None else args.key
        if len(key) != 32 or any(ch not in "0123456789abcdef" for ch in key):
            print(f"dejacache cache delete: --key must be 32 lowercase hex digits, not {key!r}", file=sys.stderr)
            return 2
    store: Any = None
    try:
        store = open_store(url)
        if args.action == "stats":
            _stats(store, args.namespace, args.json, shown)
        elif args.action == "delete":
            namespace = args.namespace or "default"
            removed = store.remove(key, namespace)
            print(f"{'deleted' if removed else 'no entry'} {key} in {namespace!r} ({shown})")
        else:
            n = store.clear(args.namespace)
            where = f"namespace {args.namespace!r}" if args.namespace is not None else "every namespace"
            print(f"cleared {n} entries of {where} ({shown})")
    except Exception as exc:  # noqa: BLE001 - an operator sees what failed, never the password
        print(f"dejacache cache {args.action}: {shown}: {type(exc).__name__}: {scrub(str(exc), url)}", file=sys.stderr)
        return 1
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001
                pass
    return 0
