"""awareness: current-awareness alerting for NHS library and knowledge services.

Layout (see docs/architecture.md): the pure core lives in ``model``, ``text``,
``sources.parse``, ``topics.query``, ``subscriptions``, ``drivers.importer``, ``drivers.linking``,
``digests.build`` and ``digests.render``; it never does I/O. The shell modules (``sources.fetch``,
``storage``, ``digests.mail``, ``web``, ``scheduler``, ``cli``) each own one kind of I/O, and
``service`` is the only place where core and shell meet.
"""

__version__ = "0.1.0"
