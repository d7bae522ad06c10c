"""discover: propose a source block (item, title, link, date selectors) for a new page.

Pure, like extract: a page in, a proposal out. Nothing in ingest uses it; the command
line shows its proposal to the operator.
"""
