"""``python -m runbook_helpers`` is the same as ``runbook``."""

from runbook_helpers.cli import main

raise SystemExit(main())
