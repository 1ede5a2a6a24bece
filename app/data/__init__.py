"""The business database: schema, engines, the demo-company seed, CSV/XLSX import and read helpers.

Modules: `schema` (tables), `db` (engines, `init_db`), `seed` (`seed_demo`), `importer`
(`import_transactions`), `queries` (DataFrames for the analytics), `periods` (reporting periods) and
`catalog` (the demo company's plans, SKUs, channels and segments). Nothing is opened at import time.
"""
