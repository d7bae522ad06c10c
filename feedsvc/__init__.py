"""feedsvc: topic listing pages in, stable RSS, Atom and JSON feeds out.

Data flows one way: fetch -> extract -> normalize -> store -> publish (render) -> serve.
Nothing happens at import and nothing heavy is imported here: each process loads only
the stages it runs (`feedsvc.web.create_app` builds the web application).
"""

from feedsvc.version import __version__

__all__ = ["__version__"]
