"""dxnavi (DXナビ): the `dxnavi` command line, the top layer — it uses every package below it."""

from ground import __version__, threads

threads.configure()  # before any command loads native code (the embedder's OpenMP reads it once, at load)

__all__ = ["__version__"]
