"""Everything a service function needs, built once from validated settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import awareness
from awareness.digests.mail import FileBackend, MailBackend, SmtpBackend
from awareness.errors import ConfigError
from awareness.settings import Settings
from awareness.sources.fetch import FetchPolicy, Resolver, system_resolver
from awareness.storage.db import make_engine, session_factory
from awareness.subscriptions import SourceDef, Topic, parse_sources, parse_topic

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """Settings plus the live resources built from them. One per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    mailer: MailBackend
    fetch_policy: FetchPolicy
    resolver: Resolver = system_resolver
    clock: Clock = utc_now
    _topics: list[Topic] | None = field(default=None, repr=False)

    def now(self) -> datetime:
        return self.clock()

    @property
    def subscriptions_dir(self) -> Path:
        return self.settings.path("paths.subscriptions")

    @property
    def templates_dir(self) -> Path:
        configured = self.settings.path("paths.templates")
        if configured.is_dir():
            return configured
        # Installed without a templates/ folder next to the settings: use the project's own.
        return Path(awareness.__file__).resolve().parents[2] / "templates"

    def topics(self) -> list[Topic]:
        """Every topic under subscriptions/topics, parsed once per context."""
        if self._topics is None:
            self._topics = load_topics(self.subscriptions_dir)
        return self._topics

    def topic(self, slug: str) -> Topic:
        for topic in self.topics():
            if topic.slug == slug:
                return topic
        known = ", ".join(t.slug for t in self.topics()) or "none"
        raise ConfigError(f"no topic {slug!r} (known topics: {known})")

    def sources(self) -> list[SourceDef]:
        return load_sources(self.subscriptions_dir)

    def dispose(self) -> None:
        self.engine.dispose()


def load_sources(folder: Path) -> list[SourceDef]:
    path = folder / "sources.toml"
    if not path.is_file():
        raise ConfigError("sources.toml is missing; create it (see docs/subscriptions.md)",
                          path=str(path))
    return parse_sources(path.read_text(encoding="utf-8"), str(path))


def load_topics(folder: Path) -> list[Topic]:
    topic_dir = folder / "topics"
    paths = sorted(topic_dir.glob("*.toml")) if topic_dir.is_dir() else []
    return [parse_topic(p.read_text(encoding="utf-8"), str(p), p.stem) for p in paths]


def mailer_from_settings(settings: Settings) -> MailBackend:
    if settings["mail.backend"] == "file":
        return FileBackend(settings.path("mail.outbox"))
    return SmtpBackend(
        settings["mail.smtp_host"],
        settings["mail.smtp_port"],
        security=settings["mail.smtp_security"],
        username=settings["mail.smtp_username"] or None,
        password=settings["mail.smtp_password"] or None,
    )


def fetch_policy_from_settings(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        user_agent=settings["fetch.user_agent"],
        total_timeout=settings["fetch.total_timeout"],
        max_bytes=settings["fetch.max_bytes"],
        allowed_hosts=frozenset(settings["fetch.allowed_hosts"]),
    )


def create_context(settings: Settings, *, clock: Clock = utc_now,
                   resolver: Resolver = system_resolver) -> Context:
    """Build the context: engine, mail backend and fetch policy from ``settings``."""
    engine = make_engine(settings.database_url)
    return Context(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        mailer=mailer_from_settings(settings),
        fetch_policy=fetch_policy_from_settings(settings),
        resolver=resolver,
        clock=clock,
    )
