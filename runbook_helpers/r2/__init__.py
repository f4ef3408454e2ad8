"""Cloudflare R2: the configured client, typed errors, bounded waits, backup names, listing,
presigned URLs and downloads.
"""
