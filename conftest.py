"""Registers the docs engine (collects docs/**/*.md) and the sandbox fixtures."""

pytest_plugins = ["runbook_docs.plugin", "tests.fixtures.plugin", "docs_site.runinfo"]
