"""awareness: current-awareness alerting for NHS library and knowledge services.

Layout (see docs/architecture.md): a pure core that never does I/O, and shell modules
(``sources.fetch``, ``storage``, ``digests.mail``, ``web``, ``scheduler``, ``cli``) that each own
one kind of I/O; ``service`` is the only place where core and shell meet. The core is every
module but the shell declared in tests/test_boundary.py, which checks it.
"""

__version__ = "0.1.0"

import sys as _sys

# httpx imports its own command-line client (click, rich and pygments: about 12 MiB in every
# process) whenever those are installed, as they are for this service's command line. Nothing
# here runs httpx's client, so its import is turned away: httpx then defines a stand-in ``main``.
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
