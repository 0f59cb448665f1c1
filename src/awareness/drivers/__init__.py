"""Driver records: the steering group's database of policy documents ("drivers for change").

    importer   reads a MAP-toolkit page saved as text into DriverRecord values (pure)
    linking    suggests which driver records a new item relates to, with a reason (pure)

The record format, the label spellings the importer accepts and the linking rule are written
out in docs/driver-records.md.
"""
