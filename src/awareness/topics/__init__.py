"""Topics: the librarians' search strategies and the matcher that applies them (pure).

    text       the text model: normalisation, words, documents, word patterns
    spelling   the UK/US spelling table
    nodes      the AST and how each node matches
    syntax     lexer and parser, with located error messages
    query      the front door: parse_query, Query (match, score, version), lint_query
    explain    clause-by-clause explanations of a match or a miss
    ranking    BM25-style relevance with recency as a tie-break
    highlight  matched words marked in escaped HTML, with snippets
    presearch  an index of many profiles by the words they need
    examples   a topic's test set, run

The language is written down in docs/search-language.md.
"""
