"""Reading a small data file (a config, a model) safely: regular files only, bounded in size
and time. A directory, a FIFO or a device such as ``/dev/zero`` is refused before any read.
"""

from __future__ import annotations

import os
import stat


class FileRefused(ValueError):
    """The path cannot be read as a data file; the message says why."""


def read_regular(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, else FileRefused.

    The file is opened without blocking (a FIFO would otherwise wait for a writer forever) and
    checked on the open descriptor, so a path swapped after a check cannot slip through.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except IsADirectoryError:
        raise FileRefused(f"{what} {name!r} is not a regular file (it is a directory)") from None
    except OSError as exc:
        raise FileRefused(f"cannot read the {what} {name!r}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(st.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(st.st_mode)
                else "a device"
                if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "not a file"
            )
            raise FileRefused(f"{what} {name!r} is not a regular file ({kind}); give the path of a file")
        if st.st_size > limit:
            raise FileRefused(f"{what} {name!r} is {st.st_size} bytes; it may be at most {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew since fstat
        raise FileRefused(f"{what} {name!r} is larger than {limit} bytes; it may be at most {limit} bytes")
    return data
