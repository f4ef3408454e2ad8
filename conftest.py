"""Registers the docs engine (collects docs/**/*.md) and the sandbox fixtures."""

pytest_plugins = ["tests.engine.plugin", "tests.fixtures.plugin", "docs_site.runinfo"]
