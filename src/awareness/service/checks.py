"""``awareness check``: validate settings and the librarians' files, collecting every problem;
and what the service needs of those files to start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from awareness.addresses import is_placeholder
from awareness.bulletins import config as bulletin_config
from awareness.bulletins.config import BulletinDef, check_bulletin_refs, parse_bulletin
from awareness.drivers import members
from awareness.drivers.members import MEMBERS_FILE, check_members_text
from awareness.errors import ConfigError
from awareness.service.context import Context, bulletin_files, read_librarian_file
from awareness.service.librarian_files import FileProblem
from awareness.settings import Settings, exposure_warnings
from awareness.subscriptions import (
    Topic,
    check_source_refs,
    check_topic_names,
    parse_sources,
    parse_topic,
)
from awareness.topics.examples import run_examples
from awareness.topics.query import lint_query


def check_all(settings: Settings) -> tuple[list[str], list[str]]:
    """(errors, warnings) as ``path:line: message`` lines; every file is checked."""
    folder = settings.paths.subscriptions
    errors: list[str] = []
    warnings: list[str] = []
    if not folder.is_dir():
        return [f"{folder}: subscriptions folder not found; set paths.subscriptions"], []
    sources = []
    sources_read = False  # a broken file's error is its own: nothing is blamed on what it holds
    sources_path = folder / "sources.toml"
    try:
        sources = parse_sources(read_librarian_file(sources_path), str(sources_path))
        sources_read = True
    except FileNotFoundError:
        errors.append(f"{sources_path}: missing; every deployment needs a sources list")
    except ConfigError as exc:
        errors.append(exc.located())
    topics: list[Topic] = []
    unread: list[str] = []  # topics whose files have errors of their own, reported above
    for path in sorted((folder / "topics").glob("*.toml")):
        try:
            topic = parse_topic(read_librarian_file(path), str(path), path.stem)
        except ConfigError as exc:
            errors.append(exc.located())
            unread.append(path.stem)
            continue
        topics.append(topic)
        warnings.extend(f"{path}: {w}" for w in lint_query(topic.query.text))
        errors.extend(f"{path}: {failure.message()}" for failure in run_examples(topic))
    if not topics:
        warnings.append(f"{folder / 'topics'}: no topics defined")
    if sources_read:
        errors.extend(e.located() for e in check_source_refs(topics, sources))
    errors.extend(e.located() for e in check_topic_names(topics))
    bulletins: list[BulletinDef] = []
    for path in sorted((folder / "bulletins").glob("*.toml")):
        try:
            bulletins.append(parse_bulletin(read_librarian_file(path), str(path), path.stem))
        except ConfigError as exc:
            errors.append(exc.located())
    errors.extend(e.located() for e in check_bulletin_refs(
        bulletins, [t.slug for t in topics] + unread))
    members_path = folder / MEMBERS_FILE
    if members_path.is_file():
        try:
            errors.extend(check_members_text(read_librarian_file(members_path),
                                             str(members_path)))
        except ConfigError as exc:
            errors.append(exc.located())
    errors.extend(_check_templates(settings))
    warnings.extend(exposure_warnings(settings))
    warnings.extend(placeholder_warnings(settings))
    return errors, warnings


def placeholder_warnings(settings: Settings) -> list[str]:
    """Addresses mail should reach a person at that are placeholders
    (``addresses.is_placeholder``): members.toml's, ``[library] contact_email`` and the
    bulletins' audiences, each as a warning naming where it is. A file with errors is passed
    over: ``check_all`` reports those."""
    folder = settings.paths.subscriptions
    found = []
    members_path = folder / MEMBERS_FILE
    if members_path.is_file():
        found += _when_readable(members.placeholder_warnings, members_path)
    contact = settings.library.contact_email
    if contact and is_placeholder(contact):
        found.append(f"[library] contact_email {contact} is a placeholder: readers who write "
                     "to it reach nobody; set it (AWARENESS_LIBRARY_CONTACT_EMAIL) to the "
                     "library's own address")
    for path in bulletin_files(folder):
        found += _when_readable(bulletin_config.placeholder_warnings, path)
    return found


def _when_readable(warnings: Callable[[str, str], list[str]], path: Path) -> list[str]:
    """``warnings`` of the file at ``path``; none when the file has errors of its own."""
    try:
        return warnings(read_librarian_file(path), str(path))
    except (ConfigError, OSError):  # check_all reports what is wrong with it
        return []


def files_at_start(ctx: Context) -> list[FileProblem]:
    """The files under subscriptions/ that the service starts without: it leaves each one out
    until it is fixed, as it does a file broken while it runs but with no earlier version to
    go on with. ConfigError, with every problem and the fix, when sources.toml is one of them:
    with no source to poll the service cannot do its job (docs/operations.md)."""
    problems = ctx.file_problems()
    try:
        ctx.sources()
    except ConfigError:
        raise ConfigError("\n".join([p.text for p in problems] + [
            "the service cannot start without the sources it polls: fix sources.toml and start "
            "it again (`awareness check` lists every problem)"])) from None
    return problems


def _check_templates(settings: Settings) -> list[str]:
    folder = settings.paths.templates
    needed = ["digest/subject.txt", "digest/body.txt", "digest/body.html",
              "bulletin/subject.txt", "bulletin/body.txt", "bulletin/body.html",
              "bulletin/after-inlining.css", "bulletin/reminder.subject.txt",
              "bulletin/reminder.txt", "mail/frame.html", "mail/footer.html",
              "mail/footer.txt"]
    if not folder.is_dir():
        return []  # the service falls back to its bundled templates
    return [f"{folder / name}: missing template" for name in needed
            if not (Path(folder) / name).is_file()]
