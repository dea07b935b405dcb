"""dxnavi (DXナビ): shared application shell — settings, errors and the `dxnavi` command line."""

__version__ = "0.1.0"
