"""The bytes of a backup: the one gzip and tar reader, formats, header, TOC, completeness, row
counts and inspect.
"""
