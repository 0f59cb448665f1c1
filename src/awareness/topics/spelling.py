"""UK/US spelling variants for topics that set ``spelling = "uk-us"`` (pure).

The table is a list of (UK, US) fragments. A query word (or the stem of a truncation or
wildcard word) that contains one side of a pair gets the other side as a variant, so
``organisation`` also matches *organization*, ``organis*`` also *organiz…*, and ``program``
also *programme*. Fragments are chosen so that the variant they produce is either the other
spelling or not a word at all: ``-our`` → ``-or`` is listed word by word, because a general
rule would make ``four`` match *for*. To extend the table, add a pair and a row to the table in
docs/search-language.md (a test keeps the two in step).
"""

from __future__ import annotations

UK_US: tuple[tuple[str, str], ...] = (
    ("isation", "ization"), ("organis", "organiz"), ("recognis", "recogniz"),
    ("prioritis", "prioritiz"), ("utilis", "utiliz"), ("minimis", "minimiz"),
    ("optimis", "optimiz"), ("standardis", "standardiz"), ("digitis", "digitiz"),
    ("modernis", "moderniz"), ("specialis", "specializ"), ("immunis", "immuniz"),
    ("hospitalis", "hospitaliz"), ("mobilis", "mobiliz"), ("personalis", "personaliz"),
    ("emphasis", "emphasiz"), ("analys", "analyz"), ("paediatr", "pediatr"),
    ("orthopaed", "orthoped"), ("anaesth", "anesth"), ("anaem", "anem"),
    ("haemat", "hemat"), ("haemorrh", "hemorrh"), ("haemo", "hemo"), ("oesophag", "esophag"),
    ("oestr", "estr"), ("foetal", "fetal"), ("foetus", "fetus"), ("diarrhoea", "diarrhea"),
    ("gynaecolog", "gynecolog"), ("leukaem", "leukem"), ("programme", "program"),
    ("centre", "center"), ("litre", "liter"), ("metre", "meter"), ("colour", "color"),
    ("behaviour", "behavior"), ("favour", "favor"), ("honour", "honor"), ("labour", "labor"),
    ("neighbour", "neighbor"), ("tumour", "tumor"), ("humour", "humor"), ("rumour", "rumor"),
    ("licence", "license"), ("defence", "defense"), ("offence", "offense"),
    ("ageing", "aging"), ("judgement", "judgment"), ("catalogue", "catalog"),
    ("dialogue", "dialog"), ("fulfil", "fulfill"), ("enrolment", "enrollment"),
    ("travell", "travel"), ("counsell", "counsel"), ("modell", "model"), ("grey", "gray"),
)

SPELLINGS = ("none", "uk-us")


def variants(stem: str, spelling: str = "uk-us") -> tuple[str, ...]:
    """The other spellings of ``stem`` (a normalised word or truncation stem), in table order."""
    if spelling != "uk-us":
        return ()
    found: list[str] = []
    for uk, us in UK_US:
        for have, other in ((uk, us), (us, uk)):
            if have in stem and not (have == us and uk in stem):
                found.append(stem.replace(have, other))
    return tuple(dict.fromkeys(v for v in found if v != stem))
