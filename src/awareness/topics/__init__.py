"""Topics: the librarians' search strategies and the matcher that applies them.

``topics.query`` is the query language (text model, parser, AST, matcher); it is pure.
The language is written down in docs/search-language.md.
"""
