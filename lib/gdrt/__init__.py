"""gdrt: the package behind the GDRT book.

Chapters call it; the same code serves ``python -m gdrt`` on a cluster.
"""

__version__ = "0.1.0"
