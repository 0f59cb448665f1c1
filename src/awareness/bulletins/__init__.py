"""Weekly bulletins (pure): the bulletin files, their schedule, drafting an issue, rendering it.

A bulletin is a curated, numbered issue sent to a whole audience (docs/bulletins.md). The
files are parsed in ``config``, send times worked out in ``schedule``, an issue drafted and
edited in ``build``, and rendered as mail, web page and Atom feed in ``render``.
"""
