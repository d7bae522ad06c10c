"""ingest: one source's page fetched, extracted and stored, with what follows once per item
(enrichment from the item's own page, image probes) and the operator's reads of a source
(preview, backfill of older pages, items no longer on the page).

Part of the one write path: only jobs/ and the command line call it, never the web tier.
"""
