"""Templates compiled once a process, whichever Jinja2 environment asks for them.

Every context builds its own environments (the web pages', the mail's), and an environment
compiles each template the first time it renders it: lexing, parsing and generating Python
for ``base.html`` costs more than rendering it. A ``CompiledOnce`` handed to every
environment one factory makes keeps the compiled code for the next one. Jinja2 checks the
template's source against the source the code came from, so an edited template is compiled
again; one factory's environments share their settings, which the compiled code depends on.
"""

from __future__ import annotations

from types import CodeType

import jinja2
from jinja2.bccache import Bucket


class CompiledOnce(jinja2.BytecodeCache):
    """Jinja2's bytecode cache kept in memory: one compiled template per name and file."""

    def __init__(self) -> None:
        self._code: dict[str, tuple[str, CodeType]] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self._code.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        if bucket.code is not None:
            self._code[bucket.key] = (bucket.checksum, bucket.code)
