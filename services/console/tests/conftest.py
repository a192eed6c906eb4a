"""The console's browser tests run against `echo-hub dev`, as the end-to-end tests do."""

from tests.e2e.devplatform import platform

__all__ = ["platform"]
