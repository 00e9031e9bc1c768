"""``dejacache serve``: an OpenAI- and Anthropic-compatible caching proxy (an ASGI app).

>>> from dejacache.proxy import create_app          # doctest: +SKIP
>>> app = create_app("proxy.yaml")                    # doctest: +SKIP   (uvicorn app / any ASGI server)

Needs the ``proxy`` extra: ``pip install 'dejacache[proxy]'``.
"""

from __future__ import annotations

from ._app import create_app
from ._config import ModelRoute, ProxyConfig, load_proxy_config

__all__ = ["create_app", "load_proxy_config", "ProxyConfig", "ModelRoute"]
