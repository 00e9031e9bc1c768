"""``dejacache serve``: the caching proxy under uvicorn.

Imported by the command line to build its parser: nothing heavy is imported until ``run``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

HELP = "run the OpenAI/Anthropic-compatible caching proxy (needs the 'proxy' extra)"
#: How workers (separate processes) find the config the parent checked.
CONFIG_ENV = "DEJACACHE_PROXY_CONFIG"
#: prometheus_client's multiprocess folder (``proxy._metrics.MULTIPROC_ENV``; not imported here: the
#: command line stays light).
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="a LiteLLM proxy config.yaml or a dejacache proxy config (default: every model to "
        "$OPENAI_BASE_URL / $ANTHROPIC_BASE_URL, cached in memory)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4000, help="port (default 4000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1); they share the configured store (use sqlite:// or redis:// "
        "for more than one: the in-memory default is per worker)",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def app_factory():  # noqa: ANN201 - uvicorn's factory hook
    """The app each worker builds, from the config the parent checked."""
    from ..proxy._app import create_app

    return create_app(os.environ.get(CONFIG_ENV) or None)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..proxy._config import load_proxy_config
    except ImportError as exc:
        print(f"dejacache serve needs the proxy extra: pip install 'dejacache[proxy]' ({exc})", file=sys.stderr)
        return 2
    from .._errors import ConfigError

    if args.workers < 1:
        print("--workers must be 1 or more", file=sys.stderr)
        return 2
    try:
        config = load_proxy_config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"dejacache serve: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1 and config.store_url is None:
        print(
            "dejacache serve: warning: the cache is in memory, so each of the "
            f"{args.workers} workers has its own; configure a shared store (cache: store: sqlite:///... "
            "or redis://...) to share entries",
            file=sys.stderr,
        )
    if args.config:
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
    else:
        os.environ.pop(CONFIG_ENV, None)
    metrics_dir = None
    if args.workers > 1 and not os.environ.get(METRICS_ENV):
        # The workers add up their /metrics counts in one folder (prometheus_client's
        # multiprocess mode): a scrape of any worker reports them all.
        metrics_dir = tempfile.mkdtemp(prefix="dejacache-metrics-")
        os.environ[METRICS_ENV] = metrics_dir
    try:
        uvicorn.run(
            "dejacache._cli.serve:app_factory",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,
        )
    finally:
        if metrics_dir is not None:
            os.environ.pop(METRICS_ENV, None)
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
