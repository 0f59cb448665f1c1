"""What a fetch may do and how it finds a host: its limits and identity (``FetchPolicy``) and
the resolver (shell: the system's DNS). Apart from ``sources.fetch`` so that a process that
never fetches (most commands) does not import httpx with the context that names them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class FetchPolicy:
    """The limits and identity one fetch runs under (all times in seconds)."""

    user_agent: str
    total_timeout: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.user_agent.strip():
            raise ValueError("user_agent must name the service")
        if min(self.total_timeout, self.connect_timeout, self.read_timeout, self.max_bytes) <= 0:
            raise ValueError("timeouts and max_bytes must be positive")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system resolves ``host`` to, in its preferred order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
