"""URLs as they may be shown: in a ``repr``, a log line, ``stats()`` or an error message."""

from __future__ import annotations

from urllib.parse import urlsplit


def redact(url: str) -> str:
    """``url`` with its password shown as ``***`` (``redis://user:***@host:6379/0``; every host of
    a multi-host URL kept). A URL without a password, an ``os.environ/NAME`` reference or a text
    that is no URL comes back as it is.

    >>> redact("redis://app:s3cret@cache.internal:6379/0")
    'redis://app:***@cache.internal:6379/0'
    >>> redact("redis+cluster://:pw@[::1]:7000,[::1]:7001")
    'redis+cluster://:***@[::1]:7000,[::1]:7001'
    >>> redact("os.environ/REDIS_URL")
    'os.environ/REDIS_URL'
    """
    if url.startswith("os.environ/") or "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, hosts = parts.netloc.rsplit("@", 1)
    if ":" not in userinfo:
        return url  # a user name alone
    return parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{hosts}").geturl()
