"""Shared helpers of the end-to-end tests (tests/e2e): server processes, HTTP client, JWT."""
