"""The ``dejacache`` command. Each subcommand lives in its own module, imported only when used.

A subcommand module has ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> module implementing it
COMMANDS: dict[str, str] = {
    "bench": "dejacache._cli.bench",
    "cache": "dejacache._cli.cache",
    "eval": "dejacache._cli.eval",
    "import-gptcache": "dejacache._cli.import_gptcache",
    "serve": "dejacache._cli.serve",
    "tune": "dejacache._cli.tune",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dejacache", description="LLM call cache: tools and benchmarks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.configure(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
