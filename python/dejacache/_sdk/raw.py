"""``with_raw_response.create`` cached: OpenAI ``chat.completions`` and Anthropic ``messages``.

Frameworks (LangChain among them) call ``client.chat.completions.with_raw_response.create(...)``
to read headers. A miss makes that real call and stores its parsed body under the same key and
entry as a plain ``create`` with the same body. A hit is the SDK's own raw-response class
(openai ``LegacyAPIResponse``, anthropic ``APIResponse`` / ``AsyncAPIResponse``) around an
in-memory HTTP response that holds the cached JSON, so ``.parse()`` runs the SDK's own parsing
(the result carries ``cache=True``, which is in the body) and ``.headers`` says
``x-dejacache: exact`` or ``semantic``.

The raw-response constructors are SDK internals: they are checked once per wrapped method; when
they differ, the method passes straight through to the SDK, uncached, with one warning.
Streamed raw calls (``stream=True``) always pass through uncached.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import orjson

from .base import Endpoint, WrapContext, pop_controls
from .call_paths import Call, store_as_of
from .helpers import expect_parameters, warn_uncached

#: What ``LegacyAPIResponse`` / ``APIResponse`` take, in both SDKs at the versions tested.
_PARAMETERS = ["raw", "cast_to", "client", "stream", "stream_cls", "options", "retries_taken"]

#: the headers of a hit, by the tier that answered (the proxy's ``x-dejacache`` values)
HIT_HEADERS = {source: {"content-type": "application/json", "x-dejacache": source} for source in ("exact", "semantic")}


def _http_library(client: Any) -> Any:
    """The HTTP library the client's transport comes from (httpx, or httpx2 in newer SDKs): the
    SDK's response classes read that library's ``Response``."""
    for cls in type(getattr(client, "_client", None)).__mro__:
        top = cls.__module__.split(".")[0]
        if top.startswith("httpx"):
            http = importlib.import_module(top)
            if all(hasattr(http, name) for name in ("Response", "Request", "Headers")):
                return http
    raise ImportError(f"no httpx-like library behind {type(client).__name__}")


class RawAnswers:
    """Builds one SDK method's raw-response objects for cached answers."""

    def __init__(self, label: str, client: Any, classes: Callable[[], tuple[Any, Any, Any]], path: str):
        """``classes()``: the SDK's (raw-response class, request options class, answer model)."""
        self.label = label
        try:
            self.response_cls, options_cls, self.cast_to = classes()
            self.reason = expect_parameters(self.response_cls, _PARAMETERS)
            self.http = _http_library(client)
            self.options = options_cls.construct(method="post", url=path)
            # one request for every hit: parsing its URL is a third of building a hit
            self.request = self.http.Request("POST", str(client.base_url).rstrip("/") + path)
        except (ImportError, AttributeError, TypeError, ValueError) as exc:
            self.reason = f"its raw-response classes differ: {exc!r}"
        self.client = client

    def build(self, stored: dict, source: str = "exact") -> Any:
        """The SDK's raw response for a cached answer (``stored`` carries the hit marker)."""
        headers = HIT_HEADERS[source]
        http = self.http.Response(200, headers=headers, content=orjson.dumps(stored), request=self.request)
        http.elapsed = datetime.timedelta(0)
        return self.response_cls(
            raw=http, cast_to=self.cast_to, client=self.client, stream=False, stream_cls=None, options=self.options
        )


def _source(cache: Any, call: Call) -> str:
    """Which tier answered a hit: ``exact`` when the exact tier holds the request (an answer
    shared by single-flight is stored there too), else ``semantic``. Asked only on a hit."""
    try:
        namespace = cache.resolve_controls(call.request, call.caching, call.controls, call.namespace).namespace
        return "exact" if cache.contains(call.request, namespace=namespace) else "semantic"
    except (TypeError, ValueError):
        return "exact"


def _passes_through(answers: RawAnswers, kwargs: dict) -> bool:
    """Whether this call goes straight to the SDK (controls removed from ``kwargs``)."""
    if answers.reason is not None:
        warn_uncached(answers.label, answers.reason)
    elif kwargs.get("caching") is not False and kwargs.get("stream") is not True:
        return False
    pop_controls(kwargs)
    return True


def raw_method(
    endpoint: Endpoint, ctx: WrapContext, original: Callable, answers: RawAnswers, is_async: bool
) -> Callable:
    """The wrapped client's ``with_raw_response.create`` (``original`` is the SDK's)."""

    def plan(kwargs: dict) -> tuple[Call, list, Any]:
        call = Call(endpoint, ctx, kwargs)
        parsed: list = []  # the miss's SDK model, for the entry; the caller keeps the raw response
        store = store_as_of(endpoint)

        def store_as(response: Any, latency: float) -> tuple[dict, dict]:
            return store(parsed[0], latency)

        return call, parsed, store_as

    if is_async:

        async def acreate(**kwargs: Any) -> Any:
            if _passes_through(answers, kwargs):
                return await original(**kwargs)
            call, parsed, store_as = plan(kwargs)

            async def llm(_: Any) -> Any:
                response = await original(**call.kwargs)
                model = response.parse()
                parsed.append(await model if inspect.isawaitable(model) else model)
                return response

            out = await call.athrough(ctx.cache, llm, store_as)
            return answers.build(out, _source(ctx.cache, call)) if type(out) is dict else out

        return functools.wraps(original)(acreate)

    def create(**kwargs: Any) -> Any:
        if _passes_through(answers, kwargs):
            return original(**kwargs)
        call, parsed, store_as = plan(kwargs)

        def llm(_: Any) -> Any:
            response = original(**call.kwargs)
            parsed.append(response.parse())
            return response

        out = call.through(ctx.cache, llm, store_as)
        return answers.build(out, _source(ctx.cache, call)) if type(out) is dict else out

    return functools.wraps(original)(create)
