"""Pure parts of the scrub: the policy's rule syntax and the dump scanner, table-tested."""

from __future__ import annotations

import pytest

from runbook_helpers.errors import UsageError
from runbook_helpers.scrub.policy import Policy, Rule
from runbook_helpers.scrub.scan import scan_lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("keep", Rule("keep")),
        (None, Rule("null")),
        ("fake email", Rule("fake", "email")),
        ("fake choice woman,man", Rule("fake", "choice woman,man")),
        ("fixed ", Rule("fixed", "")),
        ("fixed redacted value", Rule("fixed", "redacted value")),
        ("shift 365", Rule("shift", "365")),
    ],
)
def test_rules_parse(text: object, expected: Rule) -> None:
    assert Rule.parse(text, "users.x") == expected


@pytest.mark.parametrize(
    "text", ["fake", "fake emails", "fake choice", "shift", "shift -3", "hash md5", "scramble"]
)
def test_bad_rules_name_the_column_and_the_syntax(text: str) -> None:
    with pytest.raises(UsageError, match=r"policy users\.x: cannot read rule") as err:
        Rule.parse(text, "users.x")
    assert "keep" in err.value.hint or "fake KIND" in err.value.hint


def test_policy_tables_default_to_public_and_drop_covers_every_column() -> None:
    policy = Policy.from_data(
        {"tables": {"users": {"id": "keep"}, "audit.log": "drop"}, "scan": {"forbid": ["cdn"]}}
    )
    assert policy.rule("public.users", "id") == Rule("keep")
    assert policy.rule("public.users", "email") is None
    assert policy.rule("audit.log", "anything") == Rule("drop")
    assert policy.forbid == ("cdn",)
    with pytest.raises(UsageError, match="not a regex"):
        Policy.from_data({"tables": {}, "scan": {"forbid": ["("]}})


DUMP = [
    "SET statement_timeout = 0;\n",
    "COPY public.users (id, email, created_at) FROM stdin;\n",
    "1\tuser-ab12@example.invalid\t2026-11-25 14:00:00+00\n",
    "2\tana@mail.example.com\t2026-11-25 14:00:00.123456+00\n",
    "\\.\n",
    "COPY public.messages (id, body) FROM stdin;\n",
    "1\tcall +44 7700 900123 or (415) 555-2671\n",
    "2\tmy number is +1 555 01234567, fake\n",
    "3\tsee https://cdn.vlvt.example/photos/1/1.jpg\\tand Dog person. Cat tolerant.\n",
    "4\tversion 1.2.3.4 on 2026-11-25, order #12345678\n",
    "\\.\n",
    "SELECT pg_catalog.setval('users_id_seq', 2, true);\n",
]


def test_the_scan_finds_emails_phones_patterns_and_originals_with_their_table() -> None:
    found = scan_lines(
        DUMP, {"Dog person. Cat tolerant.": "profiles.bio"}, [r"https?://cdn\.vlvt\.example/"]
    )
    assert [str(f) for f in found] == [
        "users: email a***m (20 chars)",
        "messages: phone +***3 (15 chars)",
        "messages: phone (***1 (14 chars)",
        "messages: forbidden pattern h***/ (25 chars)",
        "messages: original value of profiles.bio D***. (25 chars)",
    ]


def test_the_scan_ignores_fakes_timestamps_and_non_data_lines() -> None:
    clean = [
        line for line in DUMP if "ana@" not in line and "call" not in line and "cdn" not in line
    ]
    assert scan_lines(clean, {}, []) == []
