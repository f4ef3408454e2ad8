"""Making backups and data: a backup exactly as the template makes one, and a VLVT-like seed
database.
"""
