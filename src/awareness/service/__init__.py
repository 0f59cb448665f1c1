"""The service layer: the only place where the pure core and the I/O shell meet.

Each public function takes a ``Context`` (settings, database, clock, mail backend, resolver)
and does one job a person or the scheduler asks for. The CLI, the web app and the scheduler
call these functions and nothing below them.
"""

from awareness.service.context import Context, create_context

__all__ = ["Context", "create_context"]
