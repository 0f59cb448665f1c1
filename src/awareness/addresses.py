"""The one check of an e-mail address that a person gives the service (pure).

Staff subscribers (service/people.py), steering-group members (drivers/members.py) and
librarians (service/librarians.py) are all checked here, so an address one of them accepts
another does not refuse. The check is a
plain ``local@host.tld`` shape in ASCII, narrower than RFC 5322 on purpose: no quoting,
comments or address literals, no white space and none of ``<>"(),;:`` (quotes, brackets,
separators), so an accepted address is one recipient and nothing more. An apostrophe is
allowed: ``o'brien@…`` is a real NHS address. Non-ASCII addresses are refused because mail
goes out without SMTPUTF8 (RFC 6531), so such a subscriber could never be sent a digest.
Each host label starts and ends with a letter or digit (RFC 1123 2.1) and the top-level domain
is letters, so a trailing dot, ``nhs..net`` or a bare IP address is refused. The part before
the ``@`` is a dot-atom (RFC 5322 3.4.1: no dot first or last, never two together) of at most
64 characters, and the whole at most 254 (RFC 5321 4.5.3.1): what the mail library and an SMTP
server take, so an accepted address can be written into a message and sent. Finding addresses
inside free text (drivers/records.py) is a different job and keeps its own pattern.

A valid address may still be a placeholder (``is_placeholder``): the shipped members.toml's
are, and `awareness check` warns about them, since mail to them reaches nobody.
"""

from __future__ import annotations

import re

_ATOM = r"[!#-'*+\-/0-9=?A-Z^-~]+"  # printable ASCII but for space, dot and "(),:;<>@[\]
_LOCAL = rf"{_ATOM}(?:\.{_ATOM})*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,}}")
MAX_LOCAL = 64  # RFC 5321 4.5.3.1.1
MAX_ADDRESS = 254  # RFC 5321 4.5.3.1.3: a path of 256 with its angle brackets
# RFC 2606: names kept for examples and tests, which no mail to reaches: the top-level domains
# (section 2) and the second-level ones (section 3); and the placeholder domain of the files
# the service ships with (members.toml's fg.example@example.nhs.uk).
EXAMPLE_TLDS = frozenset({"example", "test", "invalid", "localhost"})
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example.nhs.uk")


def is_email_address(text: str) -> bool:
    """Is ``text`` exactly one address (callers strip surrounding white space first)?"""
    return (len(text) <= MAX_ADDRESS and _ADDRESS.fullmatch(text) is not None
            and text.index("@") <= MAX_LOCAL)


def address_problem(text: str) -> str | None:
    """Why ``text`` is not one address, as the end of a sentence ("… is not an address:
    <reason>"), or None when it is one."""
    if is_email_address(text):
        return None
    if not text.isascii():
        return ("it has non-ASCII characters, and mail goes out without SMTPUTF8, so it "
                "could never be delivered: use the person's ASCII address")
    if any(ch.isspace() for ch in text):
        return "it contains white space: give one address, as name@example.nhs.uk"
    if text.count("@") != 1:
        return "it needs exactly one '@', as in name@example.nhs.uk"
    local, host = text.split("@")
    odd = sorted({ch for ch in text if ch in '"(),:;<>[\\]'})
    if odd:
        return f"it contains {' '.join(odd)}: give the bare address, as name@example.nhs.uk"
    if not local:
        return "nothing comes before the '@'"
    if not host:
        return "nothing comes after the '@'"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "the part before the '@' starts or ends with a dot, or has two together"
    if _ADDRESS.fullmatch(text):
        return (f"the part before the '@' is longer than mail allows ({MAX_LOCAL} characters)"
                if len(local) > MAX_LOCAL else
                f"it is longer than mail allows ({MAX_ADDRESS} characters)")
    return f"'{host}' is not a domain name such as nhs.net"


def is_placeholder(address: str) -> bool:
    """Is ``address`` at a domain kept for examples (``EXAMPLE_TLDS``, ``EXAMPLE_DOMAINS``),
    or below one (``library.example.nhs.uk``)?"""
    host = address.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    return (host.rsplit(".", 1)[-1] in EXAMPLE_TLDS
            or any(host == domain or host.endswith(f".{domain}") for domain in EXAMPLE_DOMAINS))
