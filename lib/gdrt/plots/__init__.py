"""Plotly figures used by the chapters. Importing this package registers the book's offline renderer."""

from . import _renderer  # noqa: F401  (registers the "gdrt" plotly renderer)
