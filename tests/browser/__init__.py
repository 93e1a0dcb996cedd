# A package, so that pytest imports conftest.py here as ``browser.conftest``: as a second top-level ``conftest`` it
# would replace tests/conftest.py in sys.modules, and ``from conftest import make_tiny`` would find the wrong one.
