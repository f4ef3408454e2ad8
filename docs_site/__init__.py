"""The published site's build-time pieces: the mkdocs hook that shows what the docs tests ran.

``ledger`` reads ``build/docs-ledger.json`` and ``build/docs-runinfo.json``; ``render`` rewrites
a page's Markdown (recorded output, copy text, markers, stamp); ``hooks`` wires them into mkdocs;
``runinfo`` is the pytest plugin that records the versions of a docs run.
"""
