"""feedsvc: topic listing pages in, stable RSS, Atom and JSON feeds out.

Data flows one way: fetch -> extract -> normalize -> store -> render -> serve.
Nothing happens at import; `create_app` builds the web application.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("feedsvc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from feedsvc.web import create_app

__all__ = ["__version__", "create_app"]
