"""cli: the `feedsvc` command, a module per group of commands.

Imports nothing: `python -m feedsvc.cli.server` (what `feedsvc serve` becomes) forks
gunicorn's workers from a process that must load nothing they would inherit.
"""
