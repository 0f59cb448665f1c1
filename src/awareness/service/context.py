"""Everything a service function needs, built once from validated settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine

import awareness
from awareness.bulletins.config import BulletinDef, parse_bulletin
from awareness.drivers.members import MEMBERS_FILE, Member, parse_members
from awareness.errors import ConfigError, ConfigErrors, NotFound
from awareness.mail.backends import FileBackend, MailBackend, SmtpBackend
from awareness.mail.outbox import Names, describe, record_named
from awareness.service.librarian_files import FileBacked, FileProblem
from awareness.settings import Settings
from awareness.sources.policy import FetchPolicy, Resolver, system_resolver
from awareness.storage import drivers
from awareness.storage.db import make_engine
from awareness.subscriptions import SourceDef, Topic, parse_sources, parse_topic
from awareness.toml_checks import decode_librarian_file

if TYPE_CHECKING:
    import jinja2

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """Settings plus the live resources built from them. One per process.

    The librarians' files are read as they are now (``librarian_files``). A file that cannot
    be read is left out, and said so (``file_problems``), unless ``refuse_unreadable``: a
    command run by hand then stops with every problem instead, as ``awareness check``
    would print them. sources.toml is never left out: without it there is nothing to poll,
    and taken for an empty list it would disable every source.
    """

    settings: Settings
    engine: Engine
    mailer: MailBackend
    fetch_policy: FetchPolicy
    resolver: Resolver = system_resolver
    clock: Clock = utc_now
    refuse_unreadable: bool = False
    _topics: FileBacked[Topic] = field(init=False, repr=False)
    _sources: FileBacked[tuple[SourceDef, ...]] = field(init=False, repr=False)
    _bulletins: FileBacked[BulletinDef] = field(init=False, repr=False)
    _members: FileBacked[tuple[Member, ...]] = field(init=False, repr=False)
    _mail_templates: jinja2.Environment | None = field(default=None, init=False, repr=False)
    _secret: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        folder = self.subscriptions_dir
        self._topics = FileBacked("topic", lambda: topic_files(folder), _read_topic)
        self._sources = FileBacked("sources", lambda: [folder / "sources.toml"], _read_sources)
        self._bulletins = FileBacked("bulletin", lambda: bulletin_files(folder), _read_bulletin)
        self._members = FileBacked("members", lambda: members_files(folder), _read_members)

    def now(self) -> datetime:
        return self.clock()

    def secret(self) -> str:
        """The secret key that signs links and cookies, read once (it may live in a file
        under the data folder). Kept here rather than cached by ``Settings``, whose hash reads
        every setting: a digest signs two links for each item it shows."""
        if self._secret is None:
            self._secret = self.settings.secret_key()
        return self._secret

    def file_problems(self) -> list[FileProblem]:
        """Every file under ``subscriptions/`` that cannot be read as it is now (the service
        goes on with its last good version, or without it); empty when every file reads."""
        return [problem for files in (self._sources, self._topics, self._bulletins,
                                      self._members)
                for problem in files.problems()]

    def _read(self, files: FileBacked[T]) -> tuple[T, ...]:
        values = files.get()
        if self.refuse_unreadable and (unread := files.unread()):
            raise unread[0] if len(unread) == 1 else ConfigErrors(unread)
        return values

    @property
    def subscriptions_dir(self) -> Path:
        return self.settings.paths.subscriptions

    @property
    def templates_dir(self) -> Path:
        configured = self.settings.paths.templates
        if configured.is_dir():
            return configured
        # Installed without a templates/ folder next to the settings: use the project's own.
        return Path(awareness.__file__).resolve().parents[2] / "templates"

    def mail_templates(self) -> jinja2.Environment:
        """The e-mail templates' environment, made once for the process so that compiled
        templates are kept (Jinja still reads a template again when its file changes).
        Imported here: most commands send no mail, and Jinja2 is 25 ms of every start."""
        if self._mail_templates is None:
            import jinja2

            from awareness.digests.render import make_environment
            self._mail_templates = make_environment(jinja2.FileSystemLoader(self.templates_dir))
        return self._mail_templates

    def topics(self) -> tuple[Topic, ...]:
        """Every topic under subscriptions/topics, as the files are now."""
        return self._read(self._topics)

    def topic(self, slug: str) -> Topic:
        for topic in self.topics():
            if topic.slug == slug:
                return topic
        known = ", ".join(t.slug for t in self.topics()) or "none"
        raise ConfigError(f"no topic {slug!r} (known topics: {known})")

    def sources(self) -> tuple[SourceDef, ...]:
        """Every source in subscriptions/sources.toml, as the file is now; ConfigError when
        it has never been read."""
        if unread := self._sources.unread():
            raise unread[0]
        return self._sources.get()[0]

    def bulletins(self) -> tuple[BulletinDef, ...]:
        """Every bulletin under subscriptions/bulletins, as the files are now."""
        return self._read(self._bulletins)

    def members(self) -> tuple[Member, ...]:
        """The steering group's members in subscriptions/members.toml, as the file is now;
        none when there is no such file."""
        found = self._read(self._members)
        return found[0] if found else ()

    def bulletin(self, slug: str) -> BulletinDef:
        """The bulletin ``slug``; NotFound when there is no such file."""
        for bulletin in self.bulletins():
            if bulletin.slug == slug:
                return bulletin
        raise NotFound(f"no bulletin {slug!r}")

    def describer(self, connection: Connection,
                  messages: Iterable[tuple[str, str]]) -> Callable[[str, str], str]:
        """What each of the outbox's ``messages`` (kinds and keys) is, in words
        (``mail.outbox.describe``): with the bulletins' titles as the files are now, the
        titles of the driver records they name as ``connection`` reads them, and times in
        the service's zone."""
        slugs = {slug for kind, key in messages if (slug := record_named(kind, key))}
        names = Names({bulletin.slug: bulletin.title for bulletin in self.bulletins()},
                      drivers.titles_by_slug(connection, slugs))
        tz = self.settings.timezone
        return lambda kind, key: describe(kind, key, names, tz)

    def dispose(self) -> None:
        self.engine.dispose()


def topic_files(folder: Path) -> list[Path]:
    """The topic files under ``folder``/topics, in name order."""
    topic_dir = folder / "topics"
    return sorted(topic_dir.glob("*.toml")) if topic_dir.is_dir() else []


def bulletin_files(folder: Path) -> list[Path]:
    """The bulletin files under ``folder``/bulletins, in name order."""
    found = folder / "bulletins"
    return sorted(found.glob("*.toml")) if found.is_dir() else []


def members_files(folder: Path) -> list[Path]:
    """``folder``/members.toml when there is one: the steering group is optional."""
    path = folder / MEMBERS_FILE
    return [path] if path.is_file() else []


def _read_bulletin(path: Path) -> BulletinDef:
    return parse_bulletin(read_librarian_file(path), str(path), path.stem)


def _read_members(path: Path) -> tuple[Member, ...]:
    return tuple(parse_members(read_librarian_file(path), str(path)))


def read_librarian_file(path: Path) -> str:
    """A librarian-edited file's text; ConfigError at the line when it is not UTF-8."""
    return decode_librarian_file(path.read_bytes(), str(path))


def _read_topic(path: Path) -> Topic:
    return parse_topic(read_librarian_file(path), str(path), path.stem)


def _read_sources(path: Path) -> tuple[SourceDef, ...]:
    return tuple(load_sources(path.parent))


def load_sources(folder: Path) -> list[SourceDef]:
    path = folder / "sources.toml"
    if not path.is_file():
        raise ConfigError("sources.toml is missing; create it (see docs/subscriptions.md)",
                          path=str(path))
    return parse_sources(read_librarian_file(path), str(path))


def mailer_from_settings(settings: Settings) -> MailBackend:
    if settings.mail.backend == "file":
        return FileBackend(settings.mail.outbox)
    return SmtpBackend(
        settings.mail.smtp_host,
        settings.mail.smtp_port,
        security=settings.mail.smtp_security,
        username=settings.mail.smtp_username or None,
        password=settings.mail.smtp_password or None,
    )


def fetch_policy_from_settings(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        user_agent=settings.fetch.user_agent,
        total_timeout=settings.fetch.total_timeout,
        max_bytes=settings.fetch.max_bytes,
        allowed_hosts=frozenset(settings.fetch.allowed_hosts),
    )


def create_context(settings: Settings, *, clock: Clock = utc_now,
                   resolver: Resolver = system_resolver,
                   refuse_unreadable: bool = False) -> Context:
    """Build the context: engine, mail backend and fetch policy from ``settings``;
    ``refuse_unreadable`` for a command run by hand (``Context``)."""
    engine = make_engine(settings.database.url)
    return Context(
        settings=settings,
        engine=engine,
        mailer=mailer_from_settings(settings),
        fetch_policy=fetch_policy_from_settings(settings),
        resolver=resolver,
        clock=clock,
        refuse_unreadable=refuse_unreadable,
    )
