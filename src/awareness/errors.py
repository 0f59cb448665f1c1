"""One exception tree for the whole service.

    AwarenessError                  base; ``str(err)`` is one line a person can act on
    ├── ConfigError                 a settings or subscriptions/ file is wrong (path, line)
    ├── QuerySyntaxError            a topic query does not parse (path, line, column)
    ├── FetchError                  a source could not be fetched (source, url)
    │   └── AddressNotAllowed       the URL resolves to an address we never contact
    ├── ParseError                  fetched bytes could not be turned into items (source)
    ├── ImportFormatError           a driver-record page could not be read (path)
    ├── MailError                   the mail backend refused or failed (temporary flag)
    ├── EditConflict                a record changed under an open edit form (fields)
    ├── AlreadyDeleted              a driver record to delete is deleted already (slug)
    ├── AccountRemoved              a single sign-on opens an account that was removed (name)
    └── NotFound                    a named thing (source, topic, match, subscriber) is unknown

Errors carry fields so callers can log or show them without parsing the message.
"""

from __future__ import annotations


class AwarenessError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(AwarenessError):
    """A settings file or a file under subscriptions/ is invalid."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.located())

    def located(self) -> str:
        """The message in ``path:line: message`` form (compilers' convention)."""
        if self.path and self.line:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class ConfigErrors(ConfigError):
    """Several problems in one file, reported together (``awareness check`` shows them all)."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        super().__init__("\n".join(error.located() for error in errors))

    def located(self) -> str:
        """One ``path:line: message`` line (or block) per problem."""
        return "\n".join(error.located() for error in self.errors)


class QuerySyntaxError(AwarenessError):
    """A topic query is not valid; ``column`` is 1-based within the query text."""

    def __init__(self, message: str, *, query: str, column: int):
        self.message = message
        self.query = query
        self.column = column
        super().__init__(f"column {column}: {message}")


class FetchError(AwarenessError):
    """Fetching a source failed; ``message`` is one sentence for the source-health page;
    ``status`` the HTTP status the server answered with, when it answered."""

    def __init__(self, message: str, *, url: str | None = None, retry_after: float | None = None,
                 gone: bool = False, status: int | None = None):
        self.message = message
        self.url = url
        self.retry_after = retry_after
        self.gone = gone
        self.status = status
        super().__init__(message)


class AddressNotAllowed(FetchError):
    """The URL's host resolves to a loopback, private or otherwise non-global address."""


class ParseError(AwarenessError):
    """Fetched bytes could not be parsed into items."""


class ImportFormatError(AwarenessError):
    """A driver-record page could not be read."""


class MailError(AwarenessError):
    """Sending a message failed. ``temporary`` says whether a retry may succeed (4xx, network)."""

    def __init__(self, message: str, *, temporary: bool):
        self.temporary = temporary
        super().__init__(message)


class EditConflict(AwarenessError):
    """Someone else saved ``fields`` of a record after this edit's form was opened, and the
    form changes them too: saving would overwrite their text unseen."""

    def __init__(self, message: str, *, fields: tuple[str, ...]):
        self.fields = fields
        super().__init__(message)


class AlreadyDeleted(AwarenessError):
    """The driver record ``slug`` was asked to be deleted, and is deleted already (a second
    run of the command, a second press of the button): say how to bring it back."""

    def __init__(self, slug: str):
        self.slug = slug
        super().__init__(f"{slug} is already deleted; `awareness drivers restore {slug}` "
                         "brings it back")


class AccountRemoved(AwarenessError):
    """A single sign-on asked for the librarian account ``name``, which an administrator
    removed: it stays closed, whatever the identity provider's groups say. Also the old
    holder's identity once the name went to someone new: ``name`` is the name it held."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"the librarian account {name!r} was removed by an administrator")


class NotFound(AwarenessError):
    """A named object does not exist."""
