"""A real Prometheus (Debian's `prometheus` 2.42) scraping the `echo-hub dev` platform."""

from tests.e2e.devplatform import platform

__all__ = ["platform"]
