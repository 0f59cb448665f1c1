"""Composing messages (pure core): the bytes every kind of mail is sent as (E12, E13)."""

from __future__ import annotations

import email.policy
import quopri
import re
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.mail.compose import (
    MAIL_POLICY,
    QP_LINE,
    ListHeaders,
    Mail,
    Sender,
    address_header,
    compose,
    key_parts,
    message_id,
    quoted_printable,
)

SENDER = Sender("awareness@example.nhs.uk", "Library and Knowledge Service")
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
UNSUBSCRIBE = "https://awareness.example.nhs.uk/unsubscribe/abc"


def mail(**changes: object) -> Mail:
    args: dict[str, object] = dict(
        sender=SENDER, to="fg.example@example.nhs.uk", to_name="Fiona Green",
        subject="1 driver record needs your attention (2026-W48)", text="Plain ‘text’.\n",
        html="<p>HTML &amp; more</p>\n", message_id="<stewardship.2026-W48.fg@example.nhs.uk>",
        date=NOW)
    args.update(changes)
    return compose(**args)  # type: ignore[arg-type]


def content(part: EmailMessage) -> str:
    """A text part's content with its CRLF line ends (as sent) read as LF."""
    return str(part.get_content()).replace("\r\n", "\n")


def parse(message: Mail) -> EmailMessage:
    parsed = BytesParser(policy=email.policy.strict).parsebytes(message.data)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")


def test_a_list_free_message_has_the_common_headers_and_no_list_headers():
    parsed = parse(mail())
    assert str(parsed["To"]) == "Fiona Green <fg.example@example.nhs.uk>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert not {"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"} & set(parsed.keys())
    plain, html = parsed.iter_parts()
    assert content(plain) == "Plain ‘text’.\n" and html.get_content_type() == "text/html"


def test_list_headers_when_the_kind_has_them():
    parsed = parse(mail(list_headers=ListHeaders("<digests.example.nhs.uk>", "Library",
                                                 UNSUBSCRIBE)))
    assert parsed["List-Id"] == "Library <digests.example.nhs.uk>"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_text_alone_is_one_part():
    parsed = parse(mail(html=None))
    assert parsed.get_content_type() == "text/plain"
    assert content(parsed) == "Plain ‘text’.\n"
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"


def test_the_envelope_is_the_one_recipient_and_our_sender():
    message = mail()
    assert (message.sender, message.recipient) == (SENDER.address, "fg.example@example.nhs.uk")
    assert message.message_id == "<stewardship.2026-W48.fg@example.nhs.uk>"


def test_the_same_message_composes_to_the_same_bytes():
    # A resend after a crash is recognisably the same mail (E3), down to the boundary.
    assert mail().data == mail().data
    assert mail().data != mail(message_id="<other@example.nhs.uk>").data


@pytest.mark.parametrize("name", ["Fiona\r\nBcc: x@evil.example", "Eve \u202e", "A\x00B"])
def test_hostile_display_names_stay_in_their_header(name: str):
    raw = mail(to_name=name).data
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^Bcc", headers, re.MULTILINE)
    parsed = parse(mail(to_name=name))
    assert not set(str(parsed["To"])) & {"\r", "\n", "\x00", "\u202e"}


def test_a_naive_date_and_a_bad_message_id_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        mail(date=datetime(2026, 11, 26, 7, 0))
    with pytest.raises(ValueError, match="Message-ID"):
        mail(message_id="<a b@x>\r\nBcc: y")


def test_every_message_id_is_built_one_way_and_reads_back():
    built = message_id("bulletin", "weekly", 3, "r-12", domain=" Awareness.Example.NHS.uk ")
    assert built == "<bulletin.weekly.3.r-12@awareness.example.nhs.uk>"
    parsed = BytesParser(policy=email.policy.strict).parsebytes(f"Message-ID: {built}\r\n\r\n"
                                                                .encode())
    assert parsed["Message-ID"] == built
    for part in ("", "a.b", "a b", "x>\r\nBcc: y", "é", "x" * 101):
        with pytest.raises(ValueError, match="Message-ID part"):
            message_id("digest", part, domain="example.org")
    with pytest.raises(ValueError, match="domain"):
        message_id("digest", domain="example.org>")
    assert message_id("file-problem", *key_parts("topics/Nursing_é.toml/3f2a"),
                      domain="example.org") == "<file-problem.topics.Nursing.toml.3f2a@example.org>"


@given(st.text())
def test_quoted_printable_decodes_to_the_text_and_keeps_rfc_2045_lines(text: str):
    try:
        expected = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: no UTF-8 for them, as with the email package
        with pytest.raises(UnicodeEncodeError):
            quoted_printable(text)
        return
    encoded = quoted_printable(text)
    lines = encoded.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= QP_LINE for line in lines)
    assert all(re.fullmatch(rb"[!-~]*(?:[ \t]+[!-~]+)*", line) for line in lines), (
        "printable ASCII only, and never a space or TAB at a line's end")
    normal = b"\n".join(expected.splitlines()) + b"\n"
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")) == normal


@given(st.text(min_size=1), st.text(min_size=1))
def test_any_parts_give_a_strictly_parseable_message_that_reads_back(text: str, html: str):
    try:
        message = mail(text=text, html=html)
    except UnicodeEncodeError:
        return
    plain, page = parse(message).iter_parts()
    for part, source in ((plain, text), (page, html)):
        lines = source.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
        assert content(part) == lines + "\n"


@given(st.from_regex(r"[a-zA-Z0-9.'_+\[\]:\\-]{1,64}@(?:[a-z0-9-]{1,20}\.){1,3}[a-z]{2,6}",
                     fullmatch=True))
def test_a_bare_address_is_written_as_the_header_registry_writes_it(address: str):
    # Why: To takes a short cut past the email package's header registry; it must write the
    # same, and refuse the same (a local part with a leading or double dot, say).
    try:
        registry = str(MAIL_POLICY.header_factory("To", Address("", addr_spec=address))
                       .fold(policy=MAIL_POLICY))
    except (ValueError, HeaderParseError) as refused:
        with pytest.raises(type(refused)):
            address_header("To", "", address)
        return
    assert address_header("To", "", address) == registry
