"""Anthropic's ``cache_control`` prompt-caching markers, kept or removed per destination.

Anthropic (and OpenAI-compatible gateways such as LiteLLM's proxy or OpenRouter) read the
markers; the official OpenAI API rejects unknown fields, so they are removed for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_OFFICIAL_OPENAI_HOSTS = frozenset({"api.openai.com"})
_MARKER = "cache_control"


def _rejects_markers(base_url: str | None, provider: str) -> bool:
    if provider == "anthropic":
        return False
    if base_url is None:
        return True
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str or None, not {type(base_url).__name__}")
    host = urlsplit(base_url if "//" in base_url else "//" + base_url).hostname
    return host in _OFFICIAL_OPENAI_HOSTS


def _without(d: dict) -> dict:
    if _MARKER not in d:
        return d
    out = dict(d)
    del out[_MARKER]
    return out


def _each(items: Any, strip_one: Callable[[dict], dict]) -> Any:
    """``items`` with ``strip_one`` applied to each dict; the same list when nothing changed."""
    if not isinstance(items, list):
        return items
    changed = None
    for i, item in enumerate(items):
        if isinstance(item, dict):
            new = strip_one(item)
            if new is not item:
                if changed is None:
                    changed = list(items)
                changed[i] = new
    return items if changed is None else changed


def _strip_message(message: dict) -> dict:
    new = _without(message)
    content = new.get("content")
    stripped = _each(content, _without)
    if stripped is not content:
        new = dict(new) if new is message else new
        new["content"] = stripped
    return new


def _strip_tool(tool: dict) -> dict:
    new = _without(tool)
    function = new.get("function")
    # Only the function object itself: a parameter *named* cache_control in a JSON schema stays.
    if isinstance(function, dict) and _MARKER in function:
        new = dict(new) if new is tool else new
        new["function"] = _without(function)
    return new


_FIELDS = (("messages", _strip_message), ("input", _strip_message), ("system", _without), ("tools", _strip_tool))


def strip_cache_control(body: dict, base_url: str | None = None, *, provider: str = "openai") -> dict:
    """``body`` without ``cache_control`` markers when its destination rejects them.

    Markers are removed for the official OpenAI API (``base_url`` None or ``api.openai.com``)
    from messages and their content blocks, the Responses API ``input``, ``system`` blocks and
    tools; they are kept for Anthropic (``provider="anthropic"``) and for OpenAI-compatible
    services at any other ``base_url``. The caller's dict is never changed: what changes is
    copied, and ``body`` itself is returned when nothing needs removing.

    >>> body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
    ...     {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]}
    >>> strip_cache_control(body, None)["messages"][0]["content"][0]
    {'type': 'text', 'text': 'hi'}
    >>> strip_cache_control(body, "http://localhost:4000/v1") is body
    True
    """
    if not isinstance(body, dict):
        raise TypeError(f"body must be a request dict, not {type(body).__name__}")
    if not _rejects_markers(base_url, provider):
        return body
    out = None
    for field, strip_one in _FIELDS:
        value = body.get(field)
        if value is None:
            continue
        stripped = _each(value, strip_one)
        if stripped is not value:
            if out is None:
                out = dict(body)
            out[field] = stripped
    if _MARKER in body:
        if out is None:
            out = dict(body)
        del out[_MARKER]
    return body if out is None else out
