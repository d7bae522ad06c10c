"""fetch: bring a page, an item's page, an image's size or a feed over HTTP, politely.

The only package that touches the network (requests, and nothing else opens a socket):
robots.txt, the per-host delay, size caps, conditional GET and the address guard live here.
"""
