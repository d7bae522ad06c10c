"""extract: read items out of a page, and normalize them into stored items.

Pure: bytes and settings in, values out. Nothing here does I/O or imports a module that
does (the network, the store, the web framework, the renderer).
"""
