"""The installed version of feedsvc: a leaf module, so reading it imports nothing else."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("feedsvc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
