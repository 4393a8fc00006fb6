"""Reporting a run: the closing summary, what the warehouse holds, and the tests a missing package skipped."""
