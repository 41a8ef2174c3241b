"""simplechat: a lightweight chat API."""

__version__ = "0.1.0"
