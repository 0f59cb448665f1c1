"""Sources: getting a publisher's feed and turning its bytes into items.

    fetch     the shell: the one module that talks HTTP (httpx), with the SSRF policy, size
              and time limits, conditional GET and status handling
    decoding  undoing gzip/deflate with a bound on the decoded size (no I/O)
    parse     the pure core: bytes and headers in, sanitised ``ParsedFeed`` out, with the item
              identity contract
    worker    the shell around ``parse``: worker processes with a time budget and a memory limit
    identity  the pure rules for "is this entry an item we already have?" within a source and
              across sources (stories)

Fetch and parse are separate on purpose: feedparser only ever sees bytes we fetched, never a
URL or a path (feedparser opens files and URLs it is given as strings).
"""
