"""``dejacache import-gptcache DIR``: a GPTCache data directory into a dejacache store."""

from __future__ import annotations

import argparse
import sys

HELP = "import a GPTCache data directory (sqlite.db, faiss.index) into a dejacache store"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", help="GPTCache's data_dir (with sqlite.db) or its SQLite file")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", help="the dejacache store to fill, e.g. sqlite:///cache.db or redis://host:6379/0")
    where.add_argument("--config", help="a dejacache YAML config whose cache is filled")
    parser.add_argument(
        "--model", default="gpt-3.5-turbo", help="model name of the imported requests (GPTCache keys none)"
    )
    parser.add_argument("--namespace", default=None, help="tenant the entries go to (default: the cache's own)")
    parser.add_argument("--table-prefix", default="gptcache", help="GPTCache's table_name prefix (default gptcache)")
    parser.add_argument("--no-index", action="store_true", help="ignore faiss.index: import every live question")


def run(args: argparse.Namespace) -> int:
    from .._cache import Cache
    from ..integrations.gptcache import import_gptcache

    try:
        cache = Cache.from_config(args.config) if args.config else Cache(store=args.store, max_entries=None)
        report = import_gptcache(
            args.directory,
            cache,
            model=args.model,
            namespace=args.namespace,
            table_prefix=args.table_prefix,
            use_index=not args.no_index,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"dejacache import-gptcache: {exc}", file=sys.stderr)
        return 2
    print(report)
    errors = cache.stats().get("store_errors", 0)
    if errors:  # the store is fail-open: a write it refused is counted, not raised
        print(f"dejacache import-gptcache: the store failed {errors} writes; run again", file=sys.stderr)
        return 1
    return 0
