"""Per-call cache controls, in the shape of LiteLLM's ``cache={...}`` argument.

``caching=False`` bypasses the cache; ``cache={"no-cache": True}`` skips the read but stores the
answer; ``{"no-store": True}`` reads but never writes; ``{"ttl": s}`` sets the entry's lifetime;
``{"s-maxage": s}`` refuses entries older than ``s`` seconds; ``{"namespace": "x"}`` picks the
tenant; ``{"use-cache": True}`` turns the cache on for one call, which is how a cache built with
``Cache(opt_in=True)`` is used (off unless the request asks; LiteLLM's ``mode="default_off"``),
and ``{"use-cache": False}`` turns it off like ``caching=False``. The same two keys may also sit
inside the request itself; they never enter its key.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

#: Top-level request fields that never enter a key: the cache controls themselves, streaming
#: flags (a stored complete answer can serve a streamed request), tracing metadata, and
#: transport settings (credentials, timeouts, retries).
EXCLUDED_PARAMS: tuple[str, ...] = (
    "caching",
    "cache",
    "stream",
    "stream_options",
    "metadata",
    "litellm_metadata",
    "litellm_call_id",
    "api_key",
    "timeout",
    "request_timeout",
    "max_retries",
    "num_retries",
    *(
        # LiteLLM's per-call internals (litellm.types.utils.all_litellm_params): objects and ids
        # of this one call, its logging callbacks' settings, retries, rate limits and timeouts.
        # None changes the answer. Kwargs that can (api_base, custom_llm_provider, fallbacks,
        # mock_response, prompt templates and prompt_id, litellm_system_prompt) stay in the key.
        "litellm_logging_obj",
        "litellm_trace_id",
        "litellm_session_id",
        "litellm_request_debug",
        "litellm_trusted_callback_vars",
        "litellm_disabled_callbacks",
        "litellm_credential_name",
        "completion_call_id",
        "logger_fn",
        "client",
        "use_client",
        "shared_session",
        "proxy_server_request",
        "model_info",
        "preset_cache_key",
        "cache_key",
        "acompletion",
        "aembedding",
        "atext_completion",
        "async_call",
        "tags",
        "no-log",
        "turn_off_message_logging",
        "verbose",
        "stream_timeout",
        "client_side_timeout",
        "force_timeout",
        "keepalive_seconds",
        "ssl_verify",
        "cooldown_time",
        "retry_policy",
        "retry_strategy",
        "fallback_depth",
        "max_fallbacks",
        "max_parallel_requests",
        "rpm",
        "tpm",
        "rpd",
        "tpd",
        "itpm",
        "otpm",
        "order",
        "weight",
        "arize_api_key",
        "arize_error_sampling_rate",
        "arize_otlp_protocol",
        "arize_space_id",
        "arize_space_key",
        "arize_success_sampling_rate",
        "dd_agent_host",
        "dd_agent_port",
        "dd_api_key",
        "dd_site",
        "gcs_bucket_name",
        "gcs_path_service_account",
        "humanloop_api_key",
        "langfuse_environment",
        "langfuse_host",
        "langfuse_prompt_version",
        "langfuse_public_key",
        "langfuse_secret",
        "langfuse_secret_key",
        "langfuse_span_scope",
        "langsmith_api_key",
        "langsmith_base_url",
        "langsmith_project",
        "langsmith_sampling_rate",
        "langsmith_tenant_id",
        "newrelic_api_key",
        "newrelic_region",
        "posthog_api_key",
        "posthog_api_url",
        "signoz_ingestion_endpoint",
        "signoz_ingestion_key",
        "wandb_api_key",
        "weave_project_id",
    ),
)

_FLAG_NAMES = {"no-cache": "no_cache", "no_cache": "no_cache", "no-store": "no_store", "no_store": "no_store"}
_VALUE_NAMES = {"ttl": "ttl", "s-maxage": "max_age", "s_maxage": "max_age", "namespace": "namespace"}
_USE_NAMES = ("use-cache", "use_cache")


class Controls:
    """What one call may do: read, write, with which ttl / max age, in which namespace."""

    __slots__ = ("read", "write", "ttl", "max_age", "namespace")

    def __init__(self, read: bool, write: bool, ttl: float | None, max_age: float | None, namespace: str):
        self.read = read
        self.write = write
        self.ttl = ttl
        self.max_age = max_age
        self.namespace = namespace

    def __repr__(self) -> str:
        return (
            f"Controls(read={self.read}, write={self.write}, ttl={self.ttl}, "
            f"max_age={self.max_age}, namespace={self.namespace!r})"
        )


def check_namespace(namespace: Any) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"namespace must be a non-empty string, not {namespace!r}")
    return namespace


def short_repr(value: Any) -> str:
    """``repr`` for an error message; a huge int (its repr may be refused) shown by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an int of {value.bit_length()} bits"
    return repr(value)


def check_seconds(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int past the float range
            seconds = math.nan
        if seconds >= 0:  # NaN fails it
            return seconds
    raise ValueError(
        f"{name} must be a number of seconds from 0 to {sys.float_info.max:.4g} (or inf), not {short_repr(value)}"
    )


def parse_controls(request: Any, caching: Any, cache: Any, namespace: Any, defaults: Controls) -> Controls:
    """Merges the controls found in the request with those passed to the call (the call wins)."""
    if isinstance(request, Mapping):
        if caching is None:
            caching = request.get("caching")
        in_request = request.get("cache")
        if isinstance(in_request, Mapping):
            cache = {**in_request, **cache} if isinstance(cache, Mapping) else (cache or in_request)
    read, write, ttl, max_age, ns = defaults.read, defaults.write, defaults.ttl, defaults.max_age, defaults.namespace
    if caching is not None:
        if not isinstance(caching, bool):
            raise ValueError(f"caching must be True or False, not {caching!r}")
        if not caching:
            read = write = False
    if cache is not None:
        if not isinstance(cache, Mapping):
            raise ValueError(f"cache must be a dict of controls such as {{'no-cache': True}}, not {cache!r}")
        for name in _USE_NAMES:
            use = cache.get(name)
            if use is not None:
                if not isinstance(use, bool):
                    raise ValueError(f"cache[{name!r}] must be True or False, not {use!r}")
                if caching is not False:  # caching=False always wins
                    read = write = use
        for name, value in cache.items():
            if name in _USE_NAMES:
                continue
            if name in _FLAG_NAMES:
                if not isinstance(value, bool):
                    raise ValueError(f"cache[{name!r}] must be True or False, not {value!r}")
                if value:
                    if _FLAG_NAMES[name] == "no_cache":
                        read = False
                    else:
                        write = False
            elif name in _VALUE_NAMES:
                field = _VALUE_NAMES[name]
                if field == "ttl":
                    ttl = check_seconds("cache['ttl']", value)
                elif field == "max_age":
                    max_age = check_seconds("cache['s-maxage']", value)
                else:
                    ns = check_namespace(value)
            else:
                raise ValueError(
                    f"unknown cache control {name!r}: use 'no-cache', 'no-store', 'ttl', "
                    "'s-maxage', 'namespace' or 'use-cache'"
                )
    if namespace is not None:
        ns = check_namespace(namespace)
    return Controls(read, write, ttl, max_age, ns)
