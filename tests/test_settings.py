"""Settings: declared once, documented, validated with errors that name the file and line."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from awareness.errors import ConfigError
from awareness.service.checks import check_all
from awareness.settings import SETTINGS, exposure_warnings, load_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env_name)
def test_every_setting_is_documented_in_the_readme(setting):
    assert f"`{setting.env_name}`" in README
    assert f"`[{setting.section}] {setting.key}`" in README


def test_embedded_defaults(tmp_path):
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.database.url == f"sqlite:///{tmp_path.resolve()}/var/awareness.db"
    assert settings.mail.backend == "file"
    assert settings.mail.outbox == tmp_path.resolve() / "var" / "outbox"
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8000)
    assert settings.schedule.timezone == "Europe/London"


def test_environment_overrides_file_and_paths_resolve_against_the_file(tmp_path):
    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "awareness.toml").write_text('[web]\nport = 9000\n[paths]\nsubscriptions = "subs"\n')
    settings = load_settings(config=folder / "awareness.toml",
                             environ={"AWARENESS_WEB_PORT": "9100"}, cwd=tmp_path)
    assert settings.web.port == 9100
    assert settings.paths.subscriptions == folder.resolve() / "subs"


def test_config_path_from_environment(tmp_path):
    (tmp_path / "x.toml").write_text('[mail]\nfrom_name = "Library"\n')
    settings = load_settings(environ={"AWARENESS_CONFIG": str(tmp_path / "x.toml")}, cwd=tmp_path)
    assert settings.mail.from_name == "Library"


def test_unknown_key_names_file_and_line(tmp_path):
    path = tmp_path / "awareness.toml"
    path.write_text('[web]\nhost = "127.0.0.1"\nprot = 80\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config=path, environ={}, cwd=tmp_path)
    assert str(err.value) == f"{path}:3: unknown setting 'prot' in [web]; did you mean port?"


def test_bad_value_in_environment_is_one_clear_line(tmp_path):
    with pytest.raises(ConfigError, match="AWARENESS_SCHEDULE_DAILY_TIME: expected a time"):
        load_settings(environ={"AWARENESS_SCHEDULE_DAILY_TIME": "7am"}, cwd=tmp_path)


def test_secrets_are_refused_in_the_file_and_hidden_in_repr(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[mail]\nsmtp_password = "hunter2"\n')
    with pytest.raises(ConfigError, match="AWARENESS_MAIL_SMTP_PASSWORD"):
        load_settings(config=path, environ={}, cwd=tmp_path)
    settings = load_settings(environ={"AWARENESS_MAIL_SMTP_PASSWORD": "hunter2"}, cwd=tmp_path)
    assert "hunter2" not in repr(settings)
    assert settings.mail.smtp_password == "hunter2"


def test_generated_secret_key_is_stable_and_private(tmp_path):
    settings = load_settings(environ={}, cwd=tmp_path)
    key = settings.secret_key()
    assert len(key) >= 40
    assert settings.secret_key() == key
    assert (tmp_path / "var" / "secret-key").stat().st_mode & 0o077 == 0


def test_a_short_signing_key_is_refused_without_being_repeated():
    weak = "change-me-in-production"  # a placeholder a deployment may forget to replace
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"AWARENESS_WEB_SECRET_KEY": weak})
    message = str(refused.value)
    assert message.startswith("AWARENESS_WEB_SECRET_KEY: too short") and "at least 32" in message
    assert weak not in message and "\n" not in message
    assert load_settings(environ={"AWARENESS_WEB_SECRET_KEY": "k" * 32}).secret_key() == "k" * 32


def _generated_key(folder: str, start: Any, keys: Any) -> None:
    settings = load_settings(environ={}, cwd=Path(folder))
    start.wait()
    keys.put(settings.secret_key())


@pytest.mark.integration
def test_processes_starting_at_once_on_one_data_folder_share_one_key(tmp_path):
    """Web processes of one deployment sharing a data folder (docker-compose.yml) start
    together: each must end with the same key, or a session or a mailed link signed by one
    is refused by the next; and nothing but the key is left in the folder. (The window in
    which two processes both find no key is narrow: a run catches a lost race only now and
    then.)"""
    context = multiprocessing.get_context("spawn")
    start, keys = context.Barrier(6), context.Queue()
    workers = [context.Process(target=_generated_key, args=(str(tmp_path), start, keys))
               for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * 6
    found = {keys.get(timeout=5) for _ in workers}
    assert len(found) == 1 and len(found.pop()) >= 40
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["secret-key"]


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as missing:
        load_settings(config="nope.toml", environ={}, cwd=tmp_path)
    assert str(missing.value).endswith("nope.toml does not exist; create it or drop --config")
    with pytest.raises(ConfigError) as from_environment:
        load_settings(environ={"AWARENESS_CONFIG": "nope.toml"}, cwd=tmp_path)
    assert str(from_environment.value).endswith("drop AWARENESS_CONFIG")
    with pytest.raises(ConfigError) as folder:
        load_settings(config=".", environ={}, cwd=tmp_path)
    assert str(folder.value).endswith(
        f"{tmp_path.resolve()} is not a file; --config names the settings file itself "
        "(awareness.toml)")


def test_every_problem_is_reported_at_once_in_plain_words(tmp_path):
    # Issue 16: five mistakes took five runs, in Python's wording, and port 99999 passed.
    path = tmp_path / "awareness.toml"
    path.write_text('[mail]\nsmtp_hots = "mail.nhs.net"\nsmtp_port = "twenty-five"\n'
                    '[web]\nport = 99999\n[fetch]\nconcurrency = 0\n[sorces]\nx = 1\n')
    with pytest.raises(ConfigError) as err:
        load_settings(config=path, cwd=tmp_path, environ={
            "AWARENESS_FETCH_MAX_BYTES": "-5", "AWARENESS_DATABASE_URL": "mysql://x/y",
            "AWARENESS_WEB_BASE_URL": "library.nhs.uk"})
    lines = str(err.value).splitlines()
    assert lines == [
        f"{path}:2: unknown setting 'smtp_hots' in [mail]; did you mean smtp_host?",
        f"{path}:8: unknown section [sorces]; did you mean [sources]?",
        "AWARENESS_DATABASE_URL: expected sqlite:///path or postgresql+psycopg://user@host/"
        "dbname, got 'mysql://x/y'",
        f"{path}:3: [mail] smtp_port: expected a whole number, got 'twenty-five'",
        f"{path}:5: [web] port: expected a port from 1 to 65535, got 99999",
        "AWARENESS_WEB_BASE_URL: expected an http(s):// address (or empty), got "
        "'library.nhs.uk'",
        "AWARENESS_FETCH_MAX_BYTES: expected a whole number of at least 1024, got '-5'",
        f"{path}:7: [fetch] concurrency: expected a whole number of at least 1, got 0",
    ]


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, []),  # loopback, the default: a trial, or a proxy on the same machine
    ({"AWARENESS_WEB_HOST": "::1"}, []),
    ({"AWARENESS_WEB_HOST": "0.0.0.0"}, ["base_url is not an https://", "/metrics answers"]),
    ({"AWARENESS_WEB_HOST": "0.0.0.0", "AWARENESS_WEB_BASE_URL": "https://library.nhs.uk",
      "AWARENESS_WEB_METRICS_TOKEN": "t" * 32}, []),
    ({"AWARENESS_WEB_HOST": "awareness.trust.nhs.uk",
      "AWARENESS_WEB_BASE_URL": "https://library.nhs.uk"}, ["/metrics answers"]),
])
def test_a_host_other_machines_reach_is_warned_about_what_it_leaves_open(
        tmp_path: Path, environ: dict[str, str], expected: list[str]) -> None:
    settings = load_settings(environ=environ, cwd=tmp_path)
    found = exposure_warnings(settings)
    assert len(found) == len(expected)
    assert all(words in warning for words, warning in zip(expected, found, strict=True))
    # `awareness check` prints the same, and `awareness run` logs them at start.
    (tmp_path / "subscriptions").mkdir()
    assert set(found) <= set(check_all(settings)[1])
