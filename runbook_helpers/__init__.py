"""Helpers for restoring VLVT's PostgreSQL backups from Cloudflare R2.

The library is usable without the CLI: every command of ``runbook`` is a thin wrapper around a
function in one of these modules.
"""

__version__ = "0.1.0"
