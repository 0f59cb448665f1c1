"""The process's memory allocator, tuned once at start-up (shell: a C library call).

glibc's malloc gives every thread that allocates an arena of its own, up to eight per core,
and memory freed in one arena is not reused by another. The polling threads (``[fetch]
concurrency``, 8 by default) take turns under the GIL, so separate arenas buy them nothing;
they only leave each thread's freed feeds and documents resident. Two arenas keep a polling
process's peak about 5 MiB lower at 1,000 sources for the same CPU (docs/performance.md).
An operator's own ``MALLOC_ARENA_MAX`` is left as it is; other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas before the process starts its threads; True if it took."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))
