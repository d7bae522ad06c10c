"""jobs: the one write path (ingest -> publish -> export -> announce) and when it runs:
the cycle, the scheduler and the leader lock that keeps one scheduler per deployment.
"""
