"""The proxy's configuration: a LiteLLM proxy ``config.yaml``, dejacache's native form, or none.

LiteLLM's form (what a cache gateway needs of it)::

    model_list:
      - model_name: gpt-4o-mini                     # what clients ask for
        litellm_params:
          model: openai/gpt-4o-mini                 # provider/upstream model ("openai/*": any)
          api_base: https://api.openai.com/v1
          api_key: os.environ/OPENAI_API_KEY        # read from the environment at load
    litellm_settings:
      cache: true
      cache_params: {type: redis, host: 127.0.0.1, port: 6379, ttl: 600, namespace: prod}
    general_settings:
      master_key: os.environ/DEJACACHE_MASTER_KEY

Native: ``cache:`` holds ``dejacache.Cache`` settings (``store: redis://...``, ``semantic:``,
``ttl``, ``namespace``...; see ``dejacache.load_config``) in place of ``litellm_settings``;
``server:`` holds ``max_body_bytes``, ``upstream_timeout`` and ``replay_chunk_chars``.

No config: every model is forwarded to ``$OPENAI_BASE_URL`` (default https://api.openai.com/v1)
with ``$OPENAI_API_KEY``, ``/v1/messages`` to ``$ANTHROPIC_BASE_URL`` (default
https://api.anthropic.com) with ``$ANTHROPIC_API_KEY``, cached in memory, no master key (a
client's own key is forwarded when the environment has none).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import ConfigError

log = logging.getLogger("dejacache.proxy")

PROVIDERS = ("openai", "anthropic")
DEFAULT_BASES = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
DEFAULT_MAX_BODY = 8 * 1024 * 1024

_TOP = ("model_list", "litellm_settings", "general_settings", "environment_variables", "cache", "server")
_ENTRY = ("model_name", "litellm_params", "model_info")
_PARAMS = ("model", "api_base", "api_key", "timeout")
_LITELLM_SETTINGS = ("cache", "cache_params", "request_timeout")
_GENERAL = ("master_key", "max_request_size_mb")
_SERVER = ("max_body_bytes", "upstream_timeout", "replay_chunk_chars")
_CACHE_PARAMS = (
    "type",
    "host",
    "port",
    "password",
    "username",
    "ssl",
    "ttl",
    "namespace",
    "similarity_threshold",
    "mode",
    "supported_call_types",
    "disk_cache_dir",
    "redis_semantic_cache_embedding_model",
    "max_entries",
    "qdrant_api_base",
    "qdrant_collection_name",
    "qdrant_semantic_cache_embedding_model",
)
#: LiteLLM call types -> the proxy routes they name.
CALL_TYPES = {
    "completion": "chat",
    "acompletion": "chat",
    "text_completion": "completions",
    "atext_completion": "completions",
    "embedding": "embeddings",
    "aembedding": "embeddings",
    "responses": "responses",
    "aresponses": "responses",
    "anthropic_messages": "messages",
}
ROUTE_KINDS = ("chat", "completions", "embeddings", "responses", "messages")


@dataclass
class ModelRoute:
    """One ``model_list`` entry: what clients call ``name`` goes to ``provider`` as ``model``."""

    name: str
    provider: str
    model: str  # "*": the client's own model name
    api_base: str
    api_key: str | None = field(default=None, repr=False)  # never printed
    timeout: float | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        # the official OpenAI API rejects Anthropic's cache_control markers; others read them
        self.rejects_markers = self.provider == "openai" and urlsplit(self.api_base).hostname == "api.openai.com"

    def upstream_model(self, asked: str) -> str:
        if self.model == "*":
            return asked
        if self.model.endswith("/*"):  # a prefix family: "openai/ft:*" is not LiteLLM; keep it plain
            return asked
        return self.model

    @property
    def identity(self) -> str:
        """What keys an answer besides its body: provider and base URL (as the SDK wrappers
        write it, so a wrapped client and the proxy on one store share entries)."""
        return f"{self.provider}:{self.api_base.rstrip('/')}/"


@dataclass
class ProxyConfig:
    models: list[ModelRoute]
    cache_kwargs: dict = field(default_factory=dict)
    master_key: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY
    upstream_timeout: float = 600.0
    replay_chunk_chars: int = 64
    cached_routes: frozenset = frozenset(ROUTE_KINDS)
    store_url: str | None = None

    def route(self, model: Any, provider: str | None = None) -> ModelRoute | None:
        """The route for a model a client asked for: its exact name first, then a wildcard."""
        if not isinstance(model, str):
            return None
        wild = None
        for r in self.models:
            if provider is not None and r.provider != provider:
                continue
            if r.name == model:
                return r
            if wild is None and (r.name == "*" or r.name.endswith("*") and model.startswith(r.name[:-1])):
                wild = r
        return wild


def _secret(value: Any, where: str) -> Any:
    from ..stores import resolve_secret

    try:
        return resolve_secret(value, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _mapping(doc: Any, where: str, allowed: tuple[str, ...]) -> Mapping:
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {type(doc).__name__}")
    for name in doc:
        if name not in allowed:
            raise ConfigError(f"{where}: unknown key {name!r}; allowed: {', '.join(allowed)}")
    return doc


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _number(value: Any, where: str, lo: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > lo:
        raise ConfigError(f"{where} must be a number > {lo}, not {value!r}")
    return float(value)


def _model_entry(doc: Any, where: str) -> ModelRoute:
    doc = _mapping(doc, where, _ENTRY)
    name = _text(doc.get("model_name"), f"{where}.model_name")
    params = _mapping(doc.get("litellm_params"), f"{where}.litellm_params", _PARAMS)
    spec = _text(params.get("model"), f"{where}.litellm_params.model")
    provider, _, model = spec.partition("/")
    if not model:
        raise ConfigError(
            f"{where}.litellm_params.model must be written provider/model (openai/gpt-4o-mini, "
            f"anthropic/claude-sonnet-4-5, openai/*), not {spec!r}"
        )
    if provider not in PROVIDERS:
        raise ConfigError(
            f"{where}.litellm_params.model: provider {provider!r} is not supported by dejacache serve yet; "
            f"supported: {', '.join(PROVIDERS)} (an OpenAI-compatible service works as openai/ with api_base)"
        )
    base = _secret(params.get("api_base") or DEFAULT_BASES[provider], f"{where}.litellm_params.api_base")
    base = _text(base, f"{where}.litellm_params.api_base")
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.litellm_params.api_base must be an http:// or https:// URL, not {base!r}")
    key = params.get("api_key")
    key = None if key is None else _text(_secret(key, f"{where}.litellm_params.api_key"), f"{where}.api_key")
    timeout = params.get("timeout")
    info = doc.get("model_info") or {}
    if not isinstance(info, Mapping):
        raise ConfigError(f"{where}.model_info must be a mapping")
    return ModelRoute(
        name=name,
        provider=provider,
        model=model,
        api_base=base.rstrip("/"),
        api_key=key,
        timeout=None if timeout is None else _number(timeout, f"{where}.litellm_params.timeout"),
        info=dict(info),
    )


def _litellm_cache(params: Mapping, where: str) -> tuple[dict, str | None, frozenset]:
    """dejacache Cache keyword arguments from LiteLLM's ``cache_params``."""
    kind = params.get("type", "local")
    kwargs: dict[str, Any] = {}
    url = None
    if kind == "local":
        pass
    elif kind in ("redis", "redis-semantic"):
        host = _text(_secret(params.get("host", "127.0.0.1"), f"{where}.host"), f"{where}.host")
        port = _secret(params.get("port", 6379), f"{where}.port")
        password = params.get("password")
        auth = ""
        if password is not None:
            from urllib.parse import quote

            user = params.get("username") or ""
            auth = f"{quote(str(_secret(user, f'{where}.username')), safe='')}:"
            auth += f"{quote(str(_secret(password, f'{where}.password')), safe='')}@"
        scheme = "rediss" if params.get("ssl") else "redis"
        url = f"{scheme}://{auth}{host}:{port}/0"
        kwargs["store"] = url
        if kind == "redis-semantic":
            # The vectors live beside the entries, in the same Redis (Redis Stack's search module,
            # as LiteLLM's redis-semantic needs too): every worker serves every worker's paraphrases.
            threshold = params.get("similarity_threshold", 0.95)
            kwargs["semantic"] = {
                "threshold": _number(threshold, f"{where}.similarity_threshold"),
                "vector_store": url,
            }
    elif kind == "disk":
        folder = params.get("disk_cache_dir") or ".dejacache"
        os.makedirs(folder, exist_ok=True)
        url = f"sqlite:///{os.path.join(folder, 'dejacache.db')}"
        kwargs["store"] = url
    elif kind == "qdrant-semantic":
        # Vectors (with their entries' keys and texts) in Qdrant; answers in this worker's memory
        # unless the native cache: section names a shared store, as LiteLLM keeps them in Qdrant.
        base = _text(_secret(params.get("qdrant_api_base", "http://127.0.0.1:6333"), f"{where}.qdrant_api_base"), where)
        scheme, _, netloc = base.partition("://")
        if scheme not in ("http", "https") or not netloc:
            raise ConfigError(f"{where}.qdrant_api_base must be http://host:port or https://host:port, not {base!r}")
        vector_url = f"{'qdrants' if scheme == 'https' else 'qdrant'}://{netloc.rstrip('/')}"
        threshold = params.get("similarity_threshold", 0.95)
        kwargs["semantic"] = {
            "threshold": _number(threshold, f"{where}.similarity_threshold"),
            "vector_store": vector_url,
        }
    elif kind in ("s3", "gcs", "azure-blob", "redis-cluster"):
        raise ConfigError(
            f"{where}.type {kind!r} is not supported by dejacache yet; use local, redis, redis-semantic, qdrant-semantic or "
            "disk here, or the native cache: section (store: sqlite:///..., redis://..., postgresql://...; "
            "semantic: {threshold: ...})"
        )
    else:
        raise ConfigError(
            f"{where}.type must be one of local, redis, redis-semantic, qdrant-semantic, disk; not {kind!r}"
        )
    if params.get("ttl") is not None:
        kwargs["ttl"] = _number(params["ttl"], f"{where}.ttl", lo=-1)
    if params.get("namespace") is not None:
        kwargs["namespace"] = _text(params["namespace"], f"{where}.namespace")
    if params.get("max_entries") is not None:
        kwargs["max_entries"] = params["max_entries"]
    mode = params.get("mode", "default_on")
    if mode not in ("default_on", "default_off"):
        raise ConfigError(f"{where}.mode must be default_on or default_off, not {mode!r}")
    if mode == "default_off":
        kwargs["opt_in"] = True
    for name in ("redis_semantic_cache_embedding_model", "qdrant_semantic_cache_embedding_model"):
        if params.get(name) is not None:
            log.warning("dejacache serve: %s.%s is ignored: dejacache embeds locally", where, name)
    routes = frozenset(ROUTE_KINDS)
    types = params.get("supported_call_types")
    if types is not None:
        if not isinstance(types, list) or any(t not in CALL_TYPES for t in types):
            raise ConfigError(f"{where}.supported_call_types must be a list of: {', '.join(CALL_TYPES)}")
        routes = frozenset(CALL_TYPES[t] for t in types)
    return kwargs, url, routes


def _env_default() -> list[ModelRoute]:
    return [
        ModelRoute(
            "*",
            "openai",
            "*",
            (os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE") or DEFAULT_BASES["openai"]).rstrip(
                "/"
            ),
            os.environ.get("OPENAI_API_KEY") or None,
        ),
        ModelRoute(
            "*",
            "anthropic",
            "*",
            (os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASES["anthropic"]).rstrip("/"),
            os.environ.get("ANTHROPIC_API_KEY") or None,
        ),
    ]


def load_proxy_config(config: str | os.PathLike | Mapping[str, Any] | None = None) -> ProxyConfig:
    """A ``ProxyConfig`` from a YAML path, a dict, or None (the documented default).

    Raises ConfigError naming the setting and what is allowed."""
    if config is None:
        return ProxyConfig(models=_env_default())
    if isinstance(config, (str, os.PathLike)):
        from .._config import _read_yaml

        where, doc = os.fspath(config), _read_yaml(config)
    elif isinstance(config, Mapping):
        where, doc = "config", config
    else:
        raise TypeError(f"config must be a YAML path, a dict or None, not {type(config).__name__}")
    doc = _mapping(doc, where, _TOP)
    env = _mapping(
        doc.get("environment_variables"),
        f"{where}.environment_variables",
        tuple(doc.get("environment_variables") or ()),
    )
    for name, value in env.items():
        os.environ[str(name)] = str(value)
    models_doc = doc.get("model_list")
    if models_doc is None:
        models = _env_default()
    elif not isinstance(models_doc, list):
        raise ConfigError(f"{where}.model_list must be a list of model_name / litellm_params entries")
    else:
        models = [_model_entry(m, f"{where}.model_list[{i}]") for i, m in enumerate(models_doc)]
    out = ProxyConfig(models=models)
    settings = _mapping(doc.get("litellm_settings"), f"{where}.litellm_settings", _LITELLM_SETTINGS)
    if settings.get("request_timeout") is not None:
        out.upstream_timeout = _number(settings["request_timeout"], f"{where}.litellm_settings.request_timeout")
    if "cache" in doc and ("cache" in settings or "cache_params" in settings):
        raise ConfigError(f"{where}: give the cache either as litellm_settings.cache_params or as cache:, not both")
    if "cache" in doc:
        from .._config import load_config

        native = doc["cache"] if doc["cache"] is not None else {}
        if not isinstance(native, Mapping):
            raise ConfigError(f"{where}.cache must be a mapping of dejacache.Cache settings")
        out.cache_kwargs = load_config(native)
        store = native.get("store")
        out.store_url = store if isinstance(store, str) else None
    elif settings.get("cache", False) is not False or "cache_params" in settings:
        if settings.get("cache", True) is not True:
            raise ConfigError(f"{where}.litellm_settings.cache must be true or false")
        params = _mapping(settings.get("cache_params"), f"{where}.litellm_settings.cache_params", _CACHE_PARAMS)
        kwargs, out.store_url, out.cached_routes = _litellm_cache(params, f"{where}.litellm_settings.cache_params")
        from .._config import load_config

        out.cache_kwargs = load_config(kwargs)
    else:  # LiteLLM without cache: true caches nothing; a dejacache gateway caches in memory
        out.cache_kwargs = {}
    general = _mapping(doc.get("general_settings"), f"{where}.general_settings", _GENERAL)
    if general.get("master_key") is not None:
        out.master_key = _text(_secret(general["master_key"], "general_settings.master_key"), "master_key")
    if general.get("max_request_size_mb") is not None:
        out.max_body_bytes = int(_number(general["max_request_size_mb"], "max_request_size_mb") * 1024 * 1024)
    server = _mapping(doc.get("server"), f"{where}.server", _SERVER)
    if server.get("max_body_bytes") is not None:
        out.max_body_bytes = int(_number(server["max_body_bytes"], f"{where}.server.max_body_bytes"))
    if server.get("upstream_timeout") is not None:
        out.upstream_timeout = _number(server["upstream_timeout"], f"{where}.server.upstream_timeout")
    if server.get("replay_chunk_chars") is not None:
        out.replay_chunk_chars = int(_number(server["replay_chunk_chars"], f"{where}.server.replay_chunk_chars"))
    return out
