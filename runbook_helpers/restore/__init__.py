"""Restoring a backup: pre-checks, the plan and its runners, the side database, the commit rule,
what a failure left.
"""
