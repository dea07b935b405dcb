"""dxnavi (DXナビ): the `dxnavi` command line, the top layer — it uses every package below it."""

from ground import __version__

__all__ = ["__version__"]
