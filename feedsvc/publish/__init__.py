"""publish: render the feeds an ingest changed, keep their bytes, export them as files and
announce them to the WebSub hub.

The writing half (publisher, export, announce, follow) runs only in the one write path.
`live` and `gather` only read: the web tier may render a `?limit=` feed in memory with them.
"""
