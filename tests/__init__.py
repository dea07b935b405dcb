"""The test suite: unit, integration (real Chroma, real PDFs, real HTTP), browser and reliability tests."""

from ground import threads

# Imported before conftest and every test module: native libraries read this once, when they load.
threads.configure()
