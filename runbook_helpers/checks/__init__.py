"""Proving a restore: verify, preflight, the drill and the nightly restore-test with its history and
summary.
"""
