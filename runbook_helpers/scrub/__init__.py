"""Scrub personal data from a copy of VLVT's database, by a policy that covers every column.

- :mod:`.policy` reads the YAML policy (one rule per column);
- :mod:`.schema` lists a database's columns and how a policy covers them;
- :mod:`.guess` drafts rules for a person to review (``runbook scrub --init``);
- :mod:`.sqlgen` turns rules into set-based SQL (Faker vocabularies, salted hashes);
- :mod:`.scan` searches a data dump for what must not be there;
- :mod:`.run` puts them in order: check, scrub in one transaction, vacuum, scan, rename;
- :mod:`.snapshot` is the central job: latest backup -> scratch DB -> scrub -> dev bucket.
"""
