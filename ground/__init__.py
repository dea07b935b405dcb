"""The ground every layer stands on: settings (`ground.config`), errors (`ground.errors`) and the helpers
that start and stop the app's processes (`ground.processes`). It imports nothing of the app."""

__version__ = "0.1.0"
