"""Generic helpers for the fault-injection tests (tests/faults/)."""
