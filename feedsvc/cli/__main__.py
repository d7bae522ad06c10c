"""`python -m feedsvc.cli`: the `feedsvc` command without its installed script."""

import sys

from feedsvc.cli.main import main

sys.exit(main())
