"""Settings: declared once, loaded once, validated once, then passed explicitly.

Sources, in order of precedence: environment variables ``AWARENESS_<SECTION>_<KEY>``, the
settings file (``--config`` or ``AWARENESS_CONFIG``, else ``./awareness.toml`` if present),
then the defaults declared with each section below (``SETTINGS`` lists them all). Secrets are
read only from the environment (or from a file the service generates itself under the data
directory) and never appear in ``repr``. Relative paths resolve against the settings file's
folder, or the working directory when there is no settings file. Code reads a typed, frozen value
per section: ``settings.mail.smtp_host``.

Every setting is documented in README.md; tests/test_settings.py fails if one is not.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from awareness.addresses import address_problem
from awareness.errors import ConfigError
from awareness.roles import ROLES


@dataclass(frozen=True)
class Setting:
    """One declared setting: where it lives, its default, how to read it, what it means."""

    section: str
    key: str
    default: Any
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False

    @property
    def env_name(self) -> str:
        return f"AWARENESS_{self.section}_{self.key}".upper()


def _str(value: str) -> str:
    return str(value)


def _int(value: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number, got {value!r}") from None


def _at_least(low: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = _int(value)
        if number < low:
            raise ValueError(f"expected a whole number of at least {low}, got {value!r}")
        return number
    return parse


def _port(value: Any) -> int:
    number = _int(value)
    if not 1 <= number <= 65535:
        raise ValueError(f"expected a port from 1 to 65535, got {value!r}")
    return number


def _positive(value: str) -> int:
    return _at_least(1)(value)


def _positive_float(value: Any) -> float:
    number = _float(value)
    if not number > 0:
        raise ValueError(f"expected a number above 0, got {value!r}")
    return number


def _database_url(value: Any) -> str:
    url = str(value)
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        raise ValueError("expected sqlite:///path or postgresql+psycopg://user@host/dbname, "
                         f"got {url!r}")
    return url


def _base_url(value: Any) -> str:
    url = str(value)
    if url and not url.startswith(("https://", "http://")):
        raise ValueError(f"expected an http(s):// address (or empty), got {url!r}")
    return url


MIN_SECRET_KEY = 32


def _secret_key(value: Any) -> str:
    """A signing key long enough not to be guessed, or empty (one is generated). Its value is
    never repeated in an error."""
    key = str(value)
    if key and len(key) < MIN_SECRET_KEY:
        raise ValueError(
            f"too short to sign sessions and links safely ({len(key)} characters, at least "
            f"{MIN_SECRET_KEY}): use `python3 -c 'import secrets; print(secrets.token_urlsafe"
            "(48))'`, or leave it empty to have one generated in the data folder")
    return key


def _float(value: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None


def _bool(value: str) -> bool:
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _list(value: str) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    return parse


def _clock(value: str) -> str:
    hours, _, minutes = str(value).partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise ValueError(f"expected a time like 07:00, got {value!r}")
    return f"{int(hours):02d}:{int(minutes):02d}"


def _weekday(value: str) -> str:
    return _choice("mon", "tue", "wed", "thu", "fri", "sat", "sun")(str(value).lower()[:3])


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def _https_url(value: str) -> str:
    """An absolute https URL, or "" for none: what a mail may load an image from."""
    text = str(value).strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname or not text.isascii() or any(
            ch.isspace() or ord(ch) < 0x21 or ch in '"<>\\' for ch in text):
        raise ValueError(f"expected an https:// URL, got {value!r}")
    return text


def _address(value: str) -> str:
    """One e-mail address, or "" for none."""
    text = str(value).strip()
    if text and (problem := address_problem(text)):
        raise ValueError(f"{text!r} is not an address: {problem}")
    return text


def setting(default: Any, parse: Callable[[Any], Any], doc: str, *,
            secret: bool = False) -> Any:
    """Declare a setting as a field of its section: default, parser and documentation in one
    place. A secret is left out of ``repr``."""
    return field(default=default, repr=not secret,
                 metadata={"parse": parse, "doc": doc, "secret": secret})


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = setting(
        "sqlite:///var/awareness.db", _database_url,
        "SQLAlchemy URL. SQLite paths are relative to the settings folder; "
        "for PostgreSQL use `postgresql+psycopg://user@host/dbname`.")


@dataclass(frozen=True)
class PathSettings:
    """Folders, resolved against the settings file's folder when loaded."""

    subscriptions: Path = setting(
        "subscriptions", _str,
        "Folder holding `sources.toml` and `topics/*.toml` (the librarians' files).")
    templates: Path = setting("templates", _str,
                              "Folder holding the e-mail and web templates.")
    data: Path = setting(
        "var", _str, "Folder for the service's own files (generated secret key, demo state).")


@dataclass(frozen=True)
class MailSettings:
    backend: Literal["file", "smtp"] = setting("file", _choice("file", "smtp"),
                           "`file` writes each message as an `.eml` file; `smtp` sends it.")
    outbox: Path = setting("var/outbox", _str, "Folder the `file` backend writes to.")
    from_addr: str = setting("current-awareness@library.example.nhs.uk", _str,
                             "Address digests come from.")
    from_name: str = setting("Library current awareness", _str, "Display name of the sender.")
    domain: str = setting("library.example.nhs.uk", _str,
                          "Domain used in Message-ID and List-Id headers.")
    smtp_host: str = setting("localhost", _str, "SMTP server host.")
    smtp_port: int = setting(25, _port, "SMTP server port.")
    smtp_security: Literal["none", "starttls", "tls"] = setting(
        "none", _choice("none", "starttls", "tls"),
        "`starttls` upgrades the connection; `tls` connects with TLS (port 465).")
    smtp_username: str = setting("", _str, "SMTP user name (empty: no authentication).")
    smtp_password: str = setting("", _str, "SMTP password. Environment only.", secret=True)
    send_rate: float = setting(10.0, _positive_float, "Most messages sent per second.")
    highlight: bool = setting(
        False, _bool,
        "Mark the words that matched a topic in the HTML digest. Off: readers see plain "
        "text, as in any newsletter.")
    track_clicks: bool = setting(
        False, _bool,
        "Count which readers open which items: item links in digests go through a signed "
        "redirect on the web app. Off: links go straight to the publisher and nothing is "
        "counted. Say so in your privacy notice before turning it on.")
    click_ignore_seconds: int = setting(
        120, _at_least(0),
        "Clicks this many seconds or less after a digest was delivered are not counted: "
        "mail gateways open every link on arrival.")


@dataclass(frozen=True)
class WebSettings:
    host: str = setting("127.0.0.1", _str, "Address the web app listens on.")
    port: int = setting(8000, _port, "Port the web app listens on.")
    base_url: str = setting(
        "", _base_url,
        "Public URL of the web app, used in e-mail links (https in production). "
        "Empty: `http://<host>:<port>` from the two settings above.")
    secret_key: str = setting(
        "", _secret_key,
        "Key that signs sessions and tokens, at least 32 characters. Environment only; when "
        "empty the service generates one in the data folder (processes that share that "
        "folder share the key).", secret=True)
    metrics_token: str = setting(
        "", _str,
        "Bearer token that `/metrics` asks for. Environment only; when empty `/metrics` is "
        "open (counts only, no personal data): block it at the proxy or set a token.",
        secret=True)


@dataclass(frozen=True)
class ScheduleSettings:
    timezone: str = setting("Europe/London", _zone, "Time zone of the digest times.")
    daily_time: str = setting("07:00", _clock, "When daily digests are sent.")
    weekly_day: str = setting("mon", _weekday, "Day weekly digests are sent.")
    weekly_time: str = setting("07:00", _clock, "When weekly digests are sent.")
    bank_holidays: str = setting(
        "send", _choice("send", "next-working-day"),
        "On a bank holiday in England and Wales digests are sent as usual (send), or not: "
        "a daily digest's items wait for the next working day, a weekly digest goes on the "
        "next working day (next-working-day). Bulletins always move.")
    poll_seconds: int = setting(
        60, _positive, "How often the scheduler asks the database which sources are due.")

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of the digest times."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str = setting(
        "awareness/0.1 (NHS library current-awareness service; "
        "+https://library.example.nhs.uk/awareness)", _str,
        "User-Agent sent to publishers: name the service and a contact URL.")
    total_timeout: float = setting(60.0, _positive_float,
                                   "Wall-clock limit for one fetch, seconds.")
    max_bytes: int = setting(15 * 1024 * 1024, _at_least(1024),
                             "Largest decoded response accepted.")
    allowed_hosts: tuple[str, ...] = setting(
        (), _list,
        "Hosts that may resolve to private or loopback addresses (comma-separated). "
        "Empty: only public addresses are fetched.")
    concurrency: int = setting(8, _positive, "How many sources are polled at once.")
    per_host: int = setting(
        2, _positive, "How many of those may fetch from the same host at once (politeness).")


@dataclass(frozen=True)
class SourcesSettings:
    owner_email: str = setting(
        "", _str, "Who gets the daily \"broken or stale sources\" e-mail (empty: nobody).")


@dataclass(frozen=True)
class QueueSettings:
    """The job queue for `run --role worker` (issue 15; docs/scaling.md)."""

    enabled: bool = setting(
        False, _bool,
        "Hand polls, digests, bulletins, the members' lists, the sources report and relay "
        "passes to `awareness run --role worker` processes through a job queue in PostgreSQL "
        "(procrastinate: `pip install 'awareness[queue]'`, then `awareness init`). Off: the "
        "scheduler does the work itself.")
    worker_concurrency: int = setting(
        4, _positive, "How many jobs one worker process runs at once.")


@dataclass(frozen=True)
class SignupSettings:
    allowed_domains: tuple[str, ...] = setting(
        ("nhs.net", "nhs.uk"), _list,
        "Address domains staff may sign up with (comma-separated); each admits its "
        "subdomains (nhs.uk admits trust.nhs.uk). Empty: any domain.")
    per_address_per_day: int = setting(
        5, _positive, "Sign-ups, sign-in links and links to one's data one address may ask "
        "for in a day.")
    per_client_per_hour: int = setting(
        20, _positive, "Sign-ups, sign-in links and links to one's data one client address may ask "
        "for in an hour.")


@dataclass(frozen=True)
class LibrarySettings:
    """Who the digests are from, as readers see it (issue 12)."""

    name: str = setting("Library and Knowledge Service", _str,
                        "The library's name, at the top and foot of every digest.")
    contact_email: str = setting(
        "", _address, "Address readers can write to, in the mails' footer and on the pages "
        "that offer to ask the library (a limit reached, a link not recognised, an error). "
        "Empty: no contact line, and those pages offer only what staff can do themselves.")
    logo_url: str = setting(
        "", _https_url, "The library's logo above its name in digests: an `https://` URL of "
        "an image about 48 pixels high. Empty: no logo (and no image in the mail at all).")


def _fraction(value: Any) -> float:
    """A number from 0 to 1."""
    number = _float(value)
    if not 0 <= number <= 1:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    return number


@dataclass(frozen=True)
class ReportSettings:
    """Strategy precision and the impact report (issue 17)."""

    precision_threshold: float = setting(
        0.5, _fraction,
        "A topic whose share of approved matches over the last 30 days (approved ÷ decided) "
        "is below this is flagged in `topics list`, the report and the stewardship mail.")
    precision_min_decisions: int = setting(
        10, _positive,
        "Decisions a topic needs over the last 30 days before it can be flagged.")


@dataclass(frozen=True)
class LogSettings:
    """How the service writes its log (standard error)."""

    format: Literal["text", "json"] = setting(
        "text", _choice("text", "json"),
        "`text`: a line for a person; `json`: one JSON object a line (time, level, logger, "
        "message, and exception when there is one) for a log collector.")


def _group_roles(value: Any) -> tuple[tuple[str, str], ...]:
    """``GROUP=ROLE`` pairs, comma-separated (or a TOML list of them): which identity-provider
    group (or app role) gives which role."""
    pairs = []
    for part in _list(value):
        group, sep, role = part.rpartition("=")
        if not sep or not group.strip() or role.strip() not in ROLES:
            raise ValueError(f"expected GROUP=ROLE with ROLE one of {', '.join(ROLES)}, "
                             f"got {part!r}")
        pairs.append((group.strip(), role.strip()))
    return tuple(pairs)


def _issuer(value: Any) -> str:
    return _base_url(value).rstrip("/")


@dataclass(frozen=True)
class SsoSettings:
    """Single sign-on through OpenID Connect (issue 14, item 6; docs/web.md)."""

    issuer: str = setting(
        "", _issuer,
        "The identity provider's issuer URL; its discovery document is "
        "`<issuer>/.well-known/openid-configuration`. Entra ID: "
        "`https://login.microsoftonline.com/<tenant-id>/v2.0`. Empty: no single sign-on.")
    name: str = setting("Microsoft", _str,
                        "What the login page's button says: \"Sign in with <name>\".")
    client_id: str = setting("", _str, "The application (client) id registered with the "
                             "identity provider.")
    client_secret: str = setting("", _str, "The client secret. Environment only.",
                                 secret=True)
    scopes: str = setting("openid profile email", _str,
                          "Scopes asked for (space-separated; `openid` is needed).")
    group_claim: str = setting(
        "groups", _str,
        "The ID token claim that lists the user's groups: `groups` for Entra ID security "
        "groups (their object ids), `roles` for app roles.")
    roles: tuple[tuple[str, str], ...] = setting(
        (), _group_roles,
        "Which group gives which role: `GROUP=ROLE` pairs, comma-separated (a TOML list of "
        "such strings in the file), ROLE one of reviewer, editor, administrator. Someone in "
        "no listed group is refused; someone in several gets the highest role.")

    @property
    def enabled(self) -> bool:
        """Is single sign-on configured (an issuer and a client id)?"""
        return bool(self.issuer and self.client_id)


SECTIONS: dict[str, type] = {
    "database": DatabaseSettings, "paths": PathSettings, "mail": MailSettings,
    "web": WebSettings, "schedule": ScheduleSettings, "fetch": FetchSettings,
    "sources": SourcesSettings, "signup": SignupSettings, "library": LibrarySettings,
    "reports": ReportSettings,
    "queue": QueueSettings, "log": LogSettings,
    "sso": SsoSettings,
}
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(section, f.name, f.default, f.metadata["parse"], f.metadata["doc"],
            f.metadata["secret"])
    for section, cls in SECTIONS.items() for f in fields(cls))


@dataclass(frozen=True)
class Settings:
    """Validated settings, one frozen value per section: ``settings.mail.smtp_host``.

    Paths are absolute, ``database.url`` has its SQLite path resolved and ``web.base_url`` is
    filled in (without a trailing slash) when it was left empty.
    """

    database: DatabaseSettings
    paths: PathSettings
    mail: MailSettings
    web: WebSettings
    schedule: ScheduleSettings
    fetch: FetchSettings
    sources: SourcesSettings
    signup: SignupSettings
    library: LibrarySettings
    reports: ReportSettings
    queue: QueueSettings
    log: LogSettings
    sso: SsoSettings
    base_dir: Path
    config_path: Path | None = None

    @property
    def timezone(self) -> ZoneInfo:
        """The service's time zone (``[schedule] timezone``)."""
        return self.schedule.zone

    @property
    def base_url(self) -> str:
        """The web app's public URL, without a trailing slash."""
        return self.web.base_url

    def secret_key(self) -> str:
        """The signing key: from the environment, else generated once under the data folder."""
        if self.web.secret_key:
            return self.web.secret_key
        key_file = self.paths.data / "secret-key"
        if key_file.exists():
            return key_file.read_text().strip()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a name of its own, then linked into place: processes starting
        # at once on one data folder all end up with the first one's key, never a half-written
        # file (a link fails where the name exists).
        draft = key_file.with_name(f".secret-key-{os.getpid()}-{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another process's came first
                os.link(draft, key_file)
        finally:
            draft.unlink()
        return key_file.read_text().strip()


def exposure_warnings(settings: Settings) -> list[str]:
    """What a web host other than loopback leaves open with these settings: sign-in cookies
    without ``Secure`` when the public address is not https, and ``/metrics`` without a
    token. Empty on loopback (a trial, or behind a proxy on the same machine)."""
    host = settings.web.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        loopback = False
    if loopback:
        return []
    found = []
    if not settings.web.base_url.startswith("https://"):
        found.append(f"[web] host is {host}, reachable from other machines, but [web] base_url "
                     "is not an https:// address: passwords and sign-in cookies cross the "
                     "network unencrypted; serve it behind an https proxy and set "
                     "AWARENESS_WEB_BASE_URL to the https:// address (docs/web.md)")
    if not settings.web.metrics_token:
        found.append(f"[web] host is {host} and [web] metrics_token is empty: /metrics answers "
                     "anyone who reaches it (counts only, no personal data); set "
                     "AWARENESS_WEB_METRICS_TOKEN or block /metrics at the proxy")
    return found


def _by_name() -> dict[str, Setting]:
    return {f"{s.section}.{s.key}": s for s in SETTINGS}


def load_settings(config: str | Path | None = None,
                  environ: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> Settings:
    """Load and validate settings once. Every problem, in the file and in the environment, is
    collected and raised together as one ConfigError, one ``path:line: message`` a line."""
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    config_path = _find_config(config, environ, cwd)
    problems: list[ConfigError] = []
    from_file = _read_file(config_path, problems) if config_path else {}
    base_dir = (config_path.parent if config_path else cwd).resolve()
    sections: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        values = {}
        for f in fields(cls):
            setting = _by_name()[f"{section}.{f.name}"]
            origin, raw = _raw_value(setting, from_file, environ)
            try:
                value = _validate(setting, raw, origin, config_path)
            except ConfigError as problem:
                problems.append(problem)
                value = setting.default
            values[f.name] = (base_dir / value).resolve() if f.type in ("Path", Path) else value
        sections[section] = cls(**values)
    if problems:
        raise ConfigError("\n".join(problem.located() for problem in problems))
    sections["database"] = DatabaseSettings(_resolve_sqlite(sections["database"].url, base_dir))
    web = sections["web"]
    base_url = web.base_url.rstrip("/") or f"http://{web.host}:{web.port}"
    sections["web"] = replace(web, base_url=base_url)
    return Settings(**sections, base_dir=base_dir, config_path=config_path)


def _resolve_sqlite(url: str, base_dir: Path) -> str:
    """A relative SQLite path resolved against the settings folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(base_dir / url[len(prefix):])
    return url


def _find_config(config: str | Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    chosen = config or environ.get("AWARENESS_CONFIG")
    if chosen:
        path = (cwd / chosen).resolve()
        named_by = "--config" if config else "AWARENESS_CONFIG"
        if not path.exists():
            raise ConfigError(f"settings file {path} does not exist; create it or drop "
                              f"{named_by}")
        if not path.is_file():
            raise ConfigError(f"settings file {path} is not a file; {named_by} names the "
                              "settings file itself (awareness.toml)")
        return path
    default = cwd / "awareness.toml"
    return default.resolve() if default.is_file() else None


def _read_file(path: Path, problems: list[ConfigError]) -> dict[str, dict[str, Any]]:
    """The settings file's tables; unknown sections and keys and secrets in the file are
    added to ``problems`` (with a "did you mean" where a known name is close)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text: save the file as UTF-8", path=str(path)) from None
    known = _by_name()
    for section, table in data.items():
        if not isinstance(table, dict):
            problems.append(ConfigError(f"{section!r} must be a [section]", path=str(path)))
            continue
        if section not in SECTIONS:
            problems.append(ConfigError(
                f"unknown section [{section}]" + _did_you_mean(section, list(SECTIONS), "[{}]"),
                path=str(path), line=_line_of(path, f"[{section}")))
            continue
        for key in table:
            name = f"{section}.{key}"
            if name not in known:
                keys = [s.key for s in SETTINGS if s.section == section]
                problems.append(ConfigError(
                    f"unknown setting {key!r} in [{section}]" + _did_you_mean(key, keys, "{}"),
                    path=str(path), line=_line_of(path, key)))
            elif known[name].secret:
                problems.append(ConfigError(
                    f"{name} is a secret: set {known[name].env_name} in the environment "
                    "instead of the file", path=str(path), line=_line_of(path, key)))
    return {section: table for section, table in data.items()
            if isinstance(table, dict) and section in SECTIONS}


def _did_you_mean(name: str, choices: list[str], shape: str) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {shape.format(close[0])}?" if close else ""


def _raw_value(setting: Setting, from_file: Mapping[str, Mapping[str, Any]],
               environ: Mapping[str, str]) -> tuple[str, Any]:
    if setting.env_name in environ:
        return setting.env_name, environ[setting.env_name]
    table = from_file.get(setting.section, {})
    if setting.key in table:
        return f"[{setting.section}] {setting.key}", table[setting.key]
    return "default", setting.default


def _validate(setting: Setting, raw: Any, origin: str, path: Path | None) -> Any:
    if origin == "default":
        return raw
    try:
        return setting.parse(raw)
    except (TypeError, ValueError) as exc:
        where = str(path) if origin.startswith("[") and path else None
        line = _line_of(path, setting.key) if where and path else None
        raise ConfigError(f"{origin}: {exc}", path=where, line=line) from exc


def _line_of(path: Path, key: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if text.startswith((f"{key} ", f"{key}=")) or (key.startswith("[") and
                                                       text.startswith(key)):
            return number
    return None


def documented_names() -> list[str]:
    """Every environment variable name the settings answer to (for the docs test)."""
    return [s.env_name for s in SETTINGS]


def effective_values(settings: Settings) -> list[tuple[Setting, str]]:
    """Every setting with the value in force, as text, for the administrators' settings page;
    a secret shows only whether it is set, never its value, and a password in a URL (the
    database's) is masked."""
    rows = []
    for declared in SETTINGS:
        value = getattr(getattr(settings, declared.section), declared.key)
        if declared.secret:
            text = "set" if value else "not set"
        elif isinstance(value, tuple):
            text = ", ".join("=".join(v) if isinstance(v, tuple) else str(v) for v in value)
        else:
            text = _without_password(str(value))
        rows.append((declared, text))
    return rows


def _without_password(text: str) -> str:
    """``scheme://user:***@host/…`` for a URL carrying a password; anything else as it is."""
    parts = urlsplit(text) if "://" in text else None
    if parts is None or not parts.password:
        return text
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
