"""Digests: one e-mail per subscriber per period, covering the topics they chose.

    build   (pure) group a subscriber's unsent matches into a ``Digest`` and name its period
    render  (pure) turn a ``Digest`` into an ``EmailMessage`` from templates/digest/
    mail    (shell) hand a message to a backend: SMTP, or ``.eml`` files in an outbox folder

See docs/email.md for what a digest contains and why each header is there.
"""
