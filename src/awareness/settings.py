"""Settings: declared once, loaded once, validated once, then passed explicitly.

Sources, in order of precedence: environment variables ``AWARENESS_<SECTION>_<KEY>``, the
settings file (``--config`` or ``AWARENESS_CONFIG``, else ``./awareness.toml`` if present),
then the defaults declared in ``SETTINGS`` below. Secrets are read only from the environment
(or from a file the service generates itself under the data directory) and never appear in
``repr``. Relative paths resolve against the settings file's folder, or the working directory
when there is no settings file.

Every setting is documented in README.md; tests/test_settings.py fails if one is not.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from awareness.errors import ConfigError


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
    return int(value)


def _float(value: str) -> float:
    return float(value)


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


SETTINGS: tuple[Setting, ...] = (
    Setting("database", "url", "sqlite:///var/awareness.db", _str,
            "SQLAlchemy URL. SQLite paths are relative to the settings folder; "
            "for PostgreSQL use `postgresql+psycopg://user@host/dbname`."),
    Setting("paths", "subscriptions", "subscriptions", _str,
            "Folder holding `sources.toml` and `topics/*.toml` (the librarians' files)."),
    Setting("paths", "templates", "templates", _str,
            "Folder holding the e-mail and web templates."),
    Setting("paths", "data", "var", _str,
            "Folder for the service's own files (generated secret key, demo state)."),
    Setting("mail", "backend", "file", _choice("file", "smtp"),
            "`file` writes each message as an `.eml` file; `smtp` sends it."),
    Setting("mail", "outbox", "var/outbox", _str, "Folder the `file` backend writes to."),
    Setting("mail", "from_addr", "current-awareness@library.example.nhs.uk", _str,
            "Address digests come from."),
    Setting("mail", "from_name", "Library current awareness", _str, "Display name of the sender."),
    Setting("mail", "domain", "library.example.nhs.uk", _str,
            "Domain used in Message-ID and List-Id headers."),
    Setting("mail", "smtp_host", "localhost", _str, "SMTP server host."),
    Setting("mail", "smtp_port", 25, _int, "SMTP server port."),
    Setting("mail", "smtp_security", "none", _choice("none", "starttls", "tls"),
            "`starttls` upgrades the connection; `tls` connects with TLS (port 465)."),
    Setting("mail", "smtp_username", "", _str, "SMTP user name (empty: no authentication)."),
    Setting("mail", "smtp_password", "", _str,
            "SMTP password. Environment only.", secret=True),
    Setting("mail", "send_rate", 10.0, _float, "Most messages sent per second."),
    Setting("web", "host", "127.0.0.1", _str, "Address the web app listens on."),
    Setting("web", "port", 8000, _int, "Port the web app listens on."),
    Setting("web", "base_url", "", _str,
            "Public URL of the web app, used in e-mail links (https in production). "
            "Empty: `http://<host>:<port>` from the two settings above."),
    Setting("web", "secret_key", "", _str,
            "Key that signs sessions and tokens. Environment only; when empty the service "
            "generates one in the data folder.", secret=True),
    Setting("schedule", "timezone", "Europe/London", _zone, "Time zone of the digest times."),
    Setting("schedule", "daily_time", "07:00", _clock, "When daily digests are sent."),
    Setting("schedule", "weekly_day", "mon", _weekday, "Day weekly digests are sent."),
    Setting("schedule", "weekly_time", "07:00", _clock, "When weekly digests are sent."),
    Setting("schedule", "poll_seconds", 60, _int,
            "How often the scheduler asks the database which sources are due."),
    Setting("fetch", "user_agent",
            "awareness/0.1 (NHS library current-awareness service; "
            "+https://library.example.nhs.uk/awareness)", _str,
            "User-Agent sent to publishers: name the service and a contact URL."),
    Setting("fetch", "total_timeout", 60.0, _float, "Wall-clock limit for one fetch, seconds."),
    Setting("fetch", "max_bytes", 15 * 1024 * 1024, _int, "Largest decoded response accepted."),
    Setting("fetch", "allowed_hosts", (), _list,
            "Hosts that may resolve to private or loopback addresses (comma-separated). "
            "Empty: only public addresses are fetched."),
    Setting("fetch", "concurrency", 8, _int,
            "How many sources are polled at once."),
    Setting("fetch", "per_host", 2, _int,
            "How many of those may fetch from the same host at once (politeness)."),
    Setting("sources", "owner_email", "", _str,
            "Who gets the daily \"broken or stale sources\" e-mail (empty: nobody)."),
)


@dataclass(frozen=True)
class Settings:
    """Validated settings. Look values up with ``settings["section.key"]`` or the helpers."""

    values: Mapping[str, Any] = field(repr=False)
    base_dir: Path
    config_path: Path | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __repr__(self) -> str:
        shown = {
            name: ("***" if _by_name()[name].secret and value else value)
            for name, value in self.values.items()
        }
        return f"Settings(config_path={self.config_path!s}, values={shown})"

    def path(self, name: str) -> Path:
        """A path setting resolved against the settings folder."""
        return (self.base_dir / self.values[name]).resolve()

    @property
    def database_url(self) -> str:
        url = str(self.values["database.url"])
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.base_dir / url[len(prefix):])
        return url

    @property
    def base_url(self) -> str:
        """The web app's public URL, without a trailing slash."""
        configured = str(self.values["web.base_url"]).rstrip("/")
        return configured or f"http://{self.values['web.host']}:{self.values['web.port']}"

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.values["schedule.timezone"])

    def secret_key(self) -> str:
        """The signing key: from the environment, else generated once under the data folder."""
        if self.values["web.secret_key"]:
            return str(self.values["web.secret_key"])
        key_file = self.path("paths.data") / "secret-key"
        if key_file.exists():
            return key_file.read_text().strip()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


def _by_name() -> dict[str, Setting]:
    return {f"{s.section}.{s.key}": s for s in SETTINGS}


def load_settings(config: str | Path | None = None,
                  environ: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> Settings:
    """Load and validate settings once; raise ConfigError naming the file and key on error."""
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    config_path = _find_config(config, environ, cwd)
    from_file = _read_file(config_path) if config_path else {}
    values: dict[str, Any] = {}
    for name, setting in _by_name().items():
        origin, raw = _raw_value(setting, from_file, environ)
        values[name] = _validate(setting, raw, origin, config_path)
    base_dir = config_path.parent if config_path else cwd
    return Settings(values=values, base_dir=base_dir.resolve(), config_path=config_path)


def _find_config(config: str | Path | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    chosen = config or environ.get("AWARENESS_CONFIG")
    if chosen:
        path = (cwd / chosen).resolve()
        if not path.is_file():
            raise ConfigError(f"settings file {path} does not exist; create it or drop --config")
        return path
    default = cwd / "awareness.toml"
    return default.resolve() if default.is_file() else None


def _read_file(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    known = _by_name()
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{section!r} must be a [section]", path=str(path))
        for key in table:
            name = f"{section}.{key}"
            if name not in known:
                raise ConfigError(f"unknown setting {name!r}", path=str(path),
                                  line=_line_of(path, key))
            if known[name].secret:
                raise ConfigError(f"{name} is a secret: set {known[name].env_name} in the "
                                  "environment instead of the file", path=str(path),
                                  line=_line_of(path, key))
    return data


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
        if line.strip().startswith(f"{key} ") or line.strip().startswith(f"{key}="):
            return number
    return None


def documented_names() -> list[str]:
    """Every environment variable name the settings answer to (for the docs test)."""
    return [s.env_name for s in SETTINGS]
