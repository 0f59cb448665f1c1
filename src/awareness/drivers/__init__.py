"""Driver records: the steering group's database of policy documents ("drivers for change").

    importer   reads a MAP-toolkit page saved as text into DriverRecord values (pure)
    labels     the label vocabulary: field names and their spellings (pure)
    dates      free-text dates such as "Oct/Nov 2016" (pure)
    html       a saved WordPress page → the same text lines (pure)
    records    parsed details, merging pages, personal data, what changed (pure)
    plain      the plain JSON format for keeping records in git (pure)
    editions   is an item a new edition of a record? (pure)
    linking    suggests which driver records a new item relates to, with a reason (pure)

The record format, the label spellings the importer accepts and the linking rule are written
out in docs/driver-records.md.
"""
