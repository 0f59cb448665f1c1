"""Mail: one way to compose every message, one outbox, one relay.

    compose   (pure) headers, parts and bytes of a message: ``compose`` → ``Mail``
    retry     (pure) what to do after a failed send: retry when, give up, suspend; the breaker
    backends  (shell) hand ``Mail`` bytes to an SMTP server (one connection per relay pass) or
              to ``.eml`` files in a folder

The outbox table is ``storage/outbox.py``; the relay that sends it is ``service/outbox.py``.
See docs/email.md.
"""
