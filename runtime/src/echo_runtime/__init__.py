"""Shared plumbing of the ECHO services; imports no service."""
