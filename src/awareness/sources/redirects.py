"""What a permanent redirect does to a source's stored address (pure; RELIABILITY F11, F12).

A single 301 is weak evidence: CMS migrations, misconfigured load balancers and captive
portals all send them and take them back. So the address a source is fetched from moves only
after ``CONFIRMATIONS`` consecutive polls were permanently redirected to the same target, and
never from https to http. A redirect onto the address of another configured source makes this
source a "duplicate of" it, and the address does not move: two sources polling one feed would
store every item twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from awareness.links import normalise_link

CONFIRMATIONS = 3


@dataclass(frozen=True)
class RedirectState:
    """The redirect columns of one source."""

    fetch_url: str | None = None  # None: fetch the configured url
    target: str | None = None  # the permanent redirect seen on the last polls
    count: int = 0  # how many polls in a row saw it
    duplicate_of: str | None = None


def after_fetch(state: RedirectState, *, configured_url: str, permanent_url: str | None,
                other_sources: Mapping[str, str]) -> RedirectState:
    """The state after a successful fetch that was permanently redirected to ``permanent_url``.

    ``other_sources`` maps the normalised addresses of every other source to its id.
    """
    current = state.fetch_url or configured_url
    if permanent_url is None or permanent_url == current:
        return RedirectState(fetch_url=state.fetch_url)
    if urlsplit(current).scheme == "https" and urlsplit(permanent_url).scheme != "https":
        return RedirectState(fetch_url=state.fetch_url)  # never downgrade
    duplicate = other_sources.get(normalise_link(permanent_url))
    if duplicate is not None:
        return RedirectState(fetch_url=state.fetch_url, target=permanent_url,
                             duplicate_of=duplicate)
    count = state.count + 1 if state.target == permanent_url else 1
    if count >= CONFIRMATIONS:
        return RedirectState(fetch_url=permanent_url)
    return RedirectState(fetch_url=state.fetch_url, target=permanent_url, count=count)
