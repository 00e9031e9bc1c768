"""``dejacache serve``: an OpenAI- and Anthropic-compatible caching proxy (an ASGI app).

>>> from dejacache.proxy import create_app          # doctest: +SKIP
>>> app = create_app("proxy.yaml")  # for uvicorn or any ASGI server  # doctest: +SKIP

Needs the ``proxy`` extra: ``pip install 'dejacache[proxy]'``. Importing this package imports
nothing heavy; the names below load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "load_proxy_config", "ProxyConfig", "ModelRoute"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ._app import create_app

        return create_app
    if name in ("load_proxy_config", "ProxyConfig", "ModelRoute"):
        from . import _config

        return getattr(_config, name)
    raise AttributeError(f"module 'dejacache.proxy' has no attribute {name!r}")
