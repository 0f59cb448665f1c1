"""awareness: current-awareness alerting for NHS library and knowledge services.

Layout (see docs/architecture.md): a pure core that never does I/O, and shell modules
(``sources.fetch``, ``storage``, ``digests.mail``, ``web``, ``scheduler``, ``cli``) that each own
one kind of I/O; ``service`` is the only place where core and shell meet. The core is every
module but the shell declared in tests/test_boundary.py, which checks it.
"""

__version__ = "0.1.0"
