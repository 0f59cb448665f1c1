"""Everything a service function needs, built once from validated settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy import Connection, Engine

import awareness
from awareness.bulletins.config import BulletinDef, parse_bulletin
from awareness.errors import ConfigError, NotFound
from awareness.mail.backends import FileBackend, MailBackend, SmtpBackend
from awareness.mail.outbox import Names, describe, record_named
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
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class FileBacked(Generic[T]):
    """A value read from librarians' files, read again when any of them changes.

    The service never caches ``subscriptions/`` for its lifetime: an edited strategy or source
    takes effect at the next poll, without a restart. A change is a file added, removed, or
    with a new size or modification time; until then every caller gets the same object, so
    what is built from it (a topic index) can be kept as long as it is.

    An edit that cannot be read (a mistake, another encoding) never stops the service: it
    goes on with the last good value, and ``problem`` says what is wrong until the files read
    again (issue 16: every poll job failed while /healthz said "ok"). Only the first read,
    with no good value to fall back on, raises.
    """

    def __init__(self, files: Callable[[], Sequence[Path]],
                 read: Callable[[Sequence[Path]], T]):
        self._files, self._read = files, read
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._value: T | None = None
        self.problem: str | None = None

    def get(self) -> T:
        """The value for the files as they are now, or the last good one."""
        paths = self._files()
        stamp = tuple(_stamp(path) for path in paths)
        with self._lock:
            if stamp != self._stamp or self._value is None:
                try:
                    value = self._read(paths)
                except (ConfigError, OSError) as exc:
                    if self._value is None:
                        raise
                    self.problem = (exc.located() if isinstance(exc, ConfigError) else
                                    f"{type(exc).__name__}: {exc}")
                    log.error("%s; still using the files as they were before this edit",
                              self.problem)
                else:
                    self._value, self.problem = value, None
                self._stamp = stamp
            assert self._value is not None
            return self._value


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        status = path.stat()
    except FileNotFoundError:
        return (str(path), -1, -1)
    return (str(path), status.st_mtime_ns, status.st_size)


@dataclass
class Context:
    """Settings plus the live resources built from them. One per process."""

    settings: Settings
    engine: Engine
    mailer: MailBackend
    fetch_policy: FetchPolicy
    resolver: Resolver = system_resolver
    clock: Clock = utc_now
    _topics: FileBacked[tuple[Topic, ...]] = field(init=False, repr=False)
    _sources: FileBacked[tuple[SourceDef, ...]] = field(init=False, repr=False)
    _bulletins: FileBacked[tuple[BulletinDef, ...]] = field(init=False, repr=False)
    _mail_templates: jinja2.Environment | None = field(default=None, init=False, repr=False)
    _secret: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        folder = self.subscriptions_dir
        self._topics = FileBacked(lambda: topic_files(folder), _read_topics)
        self._sources = FileBacked(lambda: [folder / "sources.toml"], _read_sources)
        self._bulletins = FileBacked(lambda: bulletin_files(folder), _read_bulletins)

    def now(self) -> datetime:
        return self.clock()

    def secret(self) -> str:
        """The secret key that signs links and cookies, read once (it may live in a file
        under the data folder). Kept here rather than cached by ``Settings``, whose hash reads
        every setting: a digest signs two links for each item it shows."""
        if self._secret is None:
            self._secret = self.settings.secret_key()
        return self._secret

    def file_problems(self) -> list[str]:
        """What is wrong with an edited file under ``subscriptions/`` that the service could
        not read (it goes on with the last good version); empty when nothing is."""
        self._topics.get()
        self._sources.get()
        self._bulletins.get()
        return [p for p in (self._topics.problem, self._sources.problem,
                            self._bulletins.problem) if p]

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
        return self._topics.get()

    def topic(self, slug: str) -> Topic:
        for topic in self.topics():
            if topic.slug == slug:
                return topic
        known = ", ".join(t.slug for t in self.topics()) or "none"
        raise ConfigError(f"no topic {slug!r} (known topics: {known})")

    def sources(self) -> tuple[SourceDef, ...]:
        """Every source in subscriptions/sources.toml, as the file is now."""
        return self._sources.get()

    def bulletins(self) -> tuple[BulletinDef, ...]:
        """Every bulletin under subscriptions/bulletins, as the files are now."""
        return self._bulletins.get()

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


def _read_bulletins(paths: Sequence[Path]) -> tuple[BulletinDef, ...]:
    return tuple(parse_bulletin(read_librarian_file(p), str(p), p.stem) for p in paths)


def read_librarian_file(path: Path) -> str:
    """A librarian-edited file's text; ConfigError at the line when it is not UTF-8."""
    return decode_librarian_file(path.read_bytes(), str(path))


def _read_topics(paths: Sequence[Path]) -> tuple[Topic, ...]:
    return tuple(parse_topic(read_librarian_file(p), str(p), p.stem) for p in paths)


def _read_sources(paths: Sequence[Path]) -> tuple[SourceDef, ...]:
    return tuple(load_sources(paths[0].parent))


def load_sources(folder: Path) -> list[SourceDef]:
    path = folder / "sources.toml"
    if not path.is_file():
        raise ConfigError("sources.toml is missing; create it (see docs/subscriptions.md)",
                          path=str(path))
    return parse_sources(read_librarian_file(path), str(path))


def load_topics(folder: Path) -> list[Topic]:
    return list(_read_topics(topic_files(folder)))


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
                   resolver: Resolver = system_resolver) -> Context:
    """Build the context: engine, mail backend and fetch policy from ``settings``."""
    engine = make_engine(settings.database.url)
    return Context(
        settings=settings,
        engine=engine,
        mailer=mailer_from_settings(settings),
        fetch_policy=fetch_policy_from_settings(settings),
        resolver=resolver,
        clock=clock,
    )
