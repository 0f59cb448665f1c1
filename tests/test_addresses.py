"""One e-mail address check for staff subscribers and for steering-group members.

Both used to carry a pattern of their own and they disagreed (an apostrophe, a colon, a numeric
top-level domain, a host starting with a hyphen); the cases below run through both entry points
so a difference shows up again if either grows its own check.
"""

from __future__ import annotations

import json
import string
from email.errors import HeaderParseError
from email.headerregistry import Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.addresses import address_problem, is_email_address, is_placeholder
from awareness.drivers.members import parse_members
from awareness.errors import AwarenessError, ConfigError
from awareness.service import people

# (address as typed, accepted?) — each entry point strips surrounding white space first.
CASES = [
    ("jo.bloggs@nhs.net", True),
    ("jo+alerts@nhs.net", True),  # plus-addressing
    ("jo@mail.trust.nhs.uk", True),  # subdomains
    ("JO.BLOGGS@NHS.NET", True),
    ("jo_b-99@a1-b.example.org", True),
    ("  jo@nhs.net  ", True),  # trimmed by the caller
    ("jo@nhs.net.", False),  # trailing dot
    ("jo@nhs..net", False),
    ("jo@.nhs.net", False),
    ("jo bloggs@nhs.net", False),  # space inside
    ("jo@nhs .net", False),
    ("jo@@nhs.net", False),  # two @
    ("jo@x@nhs.net", False),
    ("@nhs.net", False),
    ("jo@", False),
    ("jo@localhost", False),  # no top-level domain
    ("jo@nhs.x", False),  # one-letter top-level domain
    ("jo@host.123", False),  # numeric top-level domain
    ("jo@192.168.0.1", False),
    ("jo@[127.0.0.1]", False),
    ("jo@-nhs.net", False),  # label starting with a hyphen
    ("jo@nhs-.net", False),  # label ending with a hyphen
    ("jo@a.-b.uk", False),
    ("jo@nhs_net.uk", False),
    ("o'brien@nhs.net", True),  # a real NHS surname
    ("jos\u00e9@nhs.net", False),  # could not be mailed without SMTPUTF8
    ("jo@nh\u00e9.net", False),
    ("jo[x]@nhs.net", False),
    ("jo\\x@nhs.net", False),
    ("jo(x)@nhs.net", False),  # the stricter old rule (members) kept
    ("jo:x@nhs.net", False),
    ("jo;x@nhs.net", False),
    ('"jo"@nhs.net', False),
    ("<jo@nhs.net>", False),
    ("Jo <jo@nhs.net>", False),
    ("jo@nhs.net, al@nhs.net", False),
    ("jo.bloggs.@nhs.net", False),  # a dot last before the @: the mail library refuses it
    (".jo@nhs.net", False),
    ("jo..bloggs@nhs.net", False),
    ("j.o.b@nhs.net", True),
    ("j" * 64 + "@nhs.net", True),  # the longest part before the @ that SMTP allows
    ("j" * 65 + "@nhs.net", False),
    ("jo@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 56 + ".uk", True),  # 254
    ("jo@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".uk", False),
]


@pytest.mark.parametrize(("address", "accepted"), CASES)
def test_the_check(address: str, accepted: bool) -> None:
    assert is_email_address(address.strip()) is accepted


def test_surrounding_white_space_is_not_part_of_an_address() -> None:
    # The callers strip; the check itself takes the whole text, including a final newline.
    assert not is_email_address(" jo@nhs.net")
    assert not is_email_address("jo@nhs.net\n")


def _member_accepts(address: str) -> bool:
    text = f'[[member]]\ninitials = "FG"\nname = "F"\nemail = {json.dumps(address)}\n'
    try:
        parse_members(text, "members.toml")
    except ConfigError as err:
        assert err.located().startswith("members.toml:4: email '")
        assert err.message.endswith(f"' is not an e-mail address: "
                                    f"{address_problem(address.strip())}")
        return False
    return True


def test_members_and_subscribers_accept_the_same_addresses(make_context) -> None:
    ctx = make_context()

    def subscriber_accepts(address: str) -> bool:
        try:
            people.add_subscriber(ctx, address, ["leadership"], "weekly")
        except AwarenessError as err:
            assert str(err) == (f"{address.strip()!r} is not an e-mail address: "
                                f"{address_problem(address.strip())}")
            return False
        return True

    expected = {address: accepted for address, accepted in CASES}
    assert {address: _member_accepts(address) for address, _ in CASES} == expected
    assert {address: subscriber_accepts(address) for address, _ in CASES} == expected


@pytest.mark.parametrize(("address", "reason"), [
    ("jos\u00e9@nhs.net", "non-ASCII characters"),
    ("jo bloggs@nhs.net", "white space"),
    ("jo@@nhs.net", "exactly one '@'"),
    ("nhs.net", "exactly one '@'"),
    ("Jo <jo@nhs.net>", "white space"),
    ("<jo@nhs.net>", "contains < >"),
    ('"jo"@nhs.net', 'contains "'),
    ("jo@[127.0.0.1]", "contains [ ]"),
    ("@nhs.net", "nothing comes before the '@'"),
    ("not-an-address@", "nothing comes after the '@'"),
    ("jo@localhost", "'localhost' is not a domain name"),
    ("jo@nhs..net", "'nhs..net' is not a domain name"),
    ("jo.bloggs.@nhs.net", "starts or ends with a dot, or has two together"),
    ("jo..b@nhs.net", "starts or ends with a dot, or has two together"),
    ("j" * 65 + "@nhs.net", "longer than mail allows (64 characters)"),
    ("jo@" + "a" * 250 + ".uk", "longer than mail allows (254 characters)"),
])
def test_a_refused_address_says_why(address: str, reason: str) -> None:
    problem = address_problem(address)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(("address", "accepted"), CASES)
def test_a_problem_exactly_when_refused(address: str, accepted: bool) -> None:
    assert (address_problem(address.strip()) is None) is accepted



@given(st.text(alphabet="!#$%&'*+-/=?^_`{|}~." + string.ascii_letters + string.digits,
               min_size=1, max_size=20))
def test_the_check_takes_what_the_mail_library_takes(local: str) -> None:
    # Confirmation mails are written with this library: an address accepted here and refused
    # there was a 500 for the person signing up (jo.bloggs.@nhs.net).
    address = f"{local}@nhs.net"
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, HeaderParseError):
        assert not is_email_address(address)
    else:
        assert is_email_address(address) and parsed.username == local


@pytest.mark.parametrize(("address", "placeholder"), [
    ("fg.example@example.nhs.uk", True),  # the shipped members.toml's
    ("someone@library.example.nhs.uk", True),  # below a placeholder domain
    ("a@example.com", True), ("a@EXAMPLE.ORG", True), ("a@mail.example.net", True),
    ("a@trust.example", True), ("a@x.test", True), ("a@x.invalid", True),  # RFC 2606 2
    ("a@nhs.net", False), ("a@trust.nhs.uk", False), ("a@myexample.com", False),
    ("a@example.community", False), ("a@exampletrust.nhs.uk", False),
])
def test_placeholders_are_the_example_domains(address: str, placeholder: bool) -> None:
    assert is_placeholder(address) is placeholder
