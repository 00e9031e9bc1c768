"""What every wrapped SDK method shares: request keys, rebuilding answers, endpoints.

An ``Endpoint`` describes one cached SDK method (``chat.completions.create``, ``messages.create``
...): the key it files its requests under, the SDK model of its answer, and, for streaming
methods, how chunks add up to an answer and how an answer is played back as chunks.
``call_paths`` runs the cache around any endpoint, sync or async.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

#: Headers that change what a provider answers; every other header (credentials, tracing,
#: request ids) stays out of keys, so a fresh trace id never turns a hit into a miss.
ANSWER_HEADERS = frozenset({"anthropic-beta", "anthropic-version", "openai-beta"})

_SCALARS = (str, int, float, bool, type(None))

#: Keys of our own in a request's key document; dotted, so no SDK parameter can collide.
ENDPOINT_FIELD = "dejacache.endpoint"
PROVIDER_FIELD = "dejacache.provider"


def plain(value: Any) -> Any:
    """``value`` as JSON-like data: SDK models dumped, tuples and other iterables as lists.

    Returns ``value`` itself when it is already plain, so the common case copies nothing.
    """
    if isinstance(value, _SCALARS):
        return value
    if type(value) is dict:
        out = None
        for k, v in value.items():
            p = plain(v)
            if p is not v:
                if out is None:
                    out = dict(value)
                out[k] = p
        return value if out is None else out
    if type(value) is list:
        out_list = None
        for i, v in enumerate(value):
            p = plain(v)
            if p is not v:
                if out_list is None:
                    out_list = list(value)
                out_list[i] = p
        return value if out_list is None else out_list
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return plain(dump(mode="json", exclude_unset=True, by_alias=True))
    if isinstance(value, Mapping):
        return plain(dict(value))
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if hasattr(value, "__iter__"):
        return plain(list(value))
    return value


def dump(model: Any) -> dict:
    """An SDK response as the JSON the provider sent (unset fields left out)."""
    return model.model_dump(mode="json", exclude_unset=True, by_alias=True, warnings=False)


def rebuild(cls: Any, data: dict) -> Any:
    """An SDK model from stored JSON: validated (fast, pydantic-core), or built leniently like
    the SDK itself does when a provider sent something its schema does not expect."""
    try:
        return cls.model_validate(data)
    except ValueError:  # pydantic.ValidationError subclasses ValueError
        return cls.construct(**data)


def key_hash(secret: str) -> str:
    """A short, one-way name for an API key: enough to keep tenants apart, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class WrapContext:
    """Settings shared by every method of one wrapped client."""

    __slots__ = (
        "cache",
        "provider",
        "base_url",
        "namespace",
        "key_suffix",
        "replay_chunk_chars",
        "stream_usage",
        "omit_types",
        "options",
    )

    def __init__(
        self,
        cache: Any,
        provider: str,
        base_url: str,
        namespace: str | None,
        api_key: str | None,
        scope_by_api_key: bool,
        replay_chunk_chars: int,
        stream_usage: bool,
        omit_types: tuple[type, ...],
        options: dict,
    ):
        self.cache = cache
        self.provider = provider  # SDK and base URL: part of every key
        self.base_url = base_url
        self.namespace = namespace
        self.key_suffix = ":" + key_hash(api_key or "") if scope_by_api_key else None
        self.replay_chunk_chars = replay_chunk_chars
        self.stream_usage = stream_usage
        self.omit_types = omit_types
        self.options = options

    def namespace_for(self, controls: Any) -> str | None:
        """The namespace of one call: the per-call one, else the wrapper's, else the cache's;
        suffixed with the API key's hash when the wrapper scopes by key."""
        ns = self.namespace
        if isinstance(controls, Mapping) and isinstance(controls.get("namespace"), str):
            ns = controls["namespace"]
        if self.key_suffix is None:
            return ns
        return (ns or self.cache.namespace) + self.key_suffix


def build_request(endpoint: str, ctx: WrapContext, kwargs: dict) -> dict:
    """The document a call is keyed by: endpoint, provider (base URL) and every body parameter.

    Non-plain arguments (generators, tuples, SDK models) are converted in ``kwargs`` too, so the
    provider receives exactly what was keyed. Credentials never enter: API keys live on the
    client, and of ``extra_headers`` only ``ANSWER_HEADERS`` are kept.
    """
    request: dict[str, Any] = {ENDPOINT_FIELD: endpoint, PROVIDER_FIELD: ctx.provider}
    omit = ctx.omit_types
    for name, value in kwargs.items():
        if isinstance(value, omit) or value is None and name in ("extra_body", "extra_query"):
            continue
        if name == "extra_headers":
            if value:
                kept = {k.lower(): v for k, v in value.items() if k.lower() in ANSWER_HEADERS}
                if kept:
                    request[name] = kept
            continue
        converted = plain(value)
        if converted is not value:
            kwargs[name] = converted
        request[name] = converted
    return request


def pop_controls(kwargs: dict) -> tuple[Any, Any]:
    """Takes dejacache's per-call controls (``caching=``, ``cache=``) out of SDK arguments."""
    return kwargs.pop("caching", None), kwargs.pop("cache", None)


class Endpoint:
    """One cached SDK method. Subclasses fill in the provider-specific parts."""

    #: Names the method in keys: answers of different methods never mix.
    name: str = ""

    def response_cls(self) -> type:
        raise NotImplementedError

    def store_form(self, response: Any) -> dict:
        """The JSON kept for an SDK answer."""
        return dump(response)

    def prepare(self, kwargs: dict, request: dict, ctx: WrapContext) -> tuple[dict, dict]:
        """Last changes to what is sent and what is keyed (e.g. removing markers a host rejects)."""
        return kwargs, request

    def assembler(self, kwargs: dict) -> Any:
        """A fresh ``Assembler`` for one streamed call."""
        raise NotImplementedError

    def stream_kwargs(self, kwargs: dict, ctx: WrapContext) -> dict:
        """The arguments sent upstream for a streamed miss (e.g. asking for usage)."""
        return kwargs

    def replay(self, stored: dict, kwargs: dict, chunk_chars: int) -> list[dict]:
        """The chunk or event documents that play ``stored`` back as the provider streams it."""
        raise NotImplementedError

    def event_builder(self) -> Callable[[dict], Any]:
        """dict -> the SDK's chunk or event object."""
        raise NotImplementedError


def split_text(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters (one empty piece for empty text)."""
    if not text:
        return [""]
    return [text[i : i + size] for i in range(0, len(text), size)]
