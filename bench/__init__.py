"""Benchmarks of the ECHO platform against raw baselines measured in the same run (`make bench`)."""
