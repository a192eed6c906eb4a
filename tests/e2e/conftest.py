"""The end-to-end tests' `platform` fixture: `echo-hub dev` started as a person starts it."""

from tests.e2e.devplatform import platform

__all__ = ["platform"]
