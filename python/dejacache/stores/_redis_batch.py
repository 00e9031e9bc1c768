"""Batch writes of ``RedisStore.put_many``: one ``EVALSHA`` of a Lua script of SETs per 1,000
entries, packed here (redis-py's packer costs more than the server for many arguments), or a
pipeline on a Cluster and where scripting is refused."""

from __future__ import annotations

from typing import Any

# put_many: KEYS[i] gets ARGV[2i-1], with PX ARGV[2i] milliseconds unless that is 0.
_PUT_MANY = """
for i = 1, #KEYS do
  local px = tonumber(ARGV[2 * i])
  if px > 0 then redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', px)
  else redis.call('SET', KEYS[i], ARGV[2 * i - 1]) end
end
return #KEYS
"""


def _pack(*args: bytes | str | int) -> bytes:
    """One RESP command (an array of bulk strings)."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else (a.encode() if isinstance(a, str) else b"%d" % a)
        parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
    return b"".join(parts)


class BatchWrites:
    """Mixed into ``RedisStore``: ``_write_batch``."""

    _r: Any
    _cluster: bool
    _put_sha: str | None
    _use_script: bool

    def _write_batch(self, keys: list[str], args: list[bytes | int]) -> None:
        if not self._cluster and self._use_script:
            from redis.exceptions import NoScriptError, ResponseError

            try:
                if self._put_sha is None:
                    sha = self._r.script_load(_PUT_MANY)
                    self._put_sha = sha.decode() if isinstance(sha, bytes) else sha
                self._send_packed(_pack(b"EVALSHA", self._put_sha.encode(), b"%d" % len(keys), *keys, *args))
                return
            except NoScriptError:  # the server restarted or flushed its scripts
                self._put_sha = None
                return self._write_batch(keys, args)
            except ResponseError as exc:  # scripting refused (some hosted Redis): a pipeline from now on
                if "script" not in str(exc).lower() and "eval" not in str(exc).lower():
                    raise
                self._use_script = False
        pipe = self._r.pipeline(transaction=False)
        for j, rkey in enumerate(keys):
            pipe.set(rkey, args[2 * j], px=args[2 * j + 1] or None)
        pipe.execute()

    def _send_packed(self, command: bytes) -> Any:
        # One command packed by _pack (redis-py's packer costs more than the server for many
        # arguments), sent on a pooled connection; a connection that failed is dropped.
        pool = self._r.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command([command])
            return conn.read_response()
        except Exception as exc:
            from redis.exceptions import ResponseError

            if not isinstance(exc, ResponseError):
                conn.disconnect()
            raise
        finally:
            pool.release(conn)
