"""Turn a policy into set-based SQL: one UPDATE (or DELETE) per table, run inside PostgreSQL.

Faker supplies the vocabularies (names, cities, sentences), generated once per run and inlined
into small ``pg_temp`` functions; each row then picks from them by a salted hash of its original
value. Equal inputs give equal outputs (joins and uniqueness survive), the salt is random per run
(a hash cannot be looked up in a dictionary), and nothing crosses the network row by row, which
is what makes a 1 GB scrub take seconds instead of the minutes a row-by-row tool needs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from faker import Faker
from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.person.en_US import Provider as PersonProvider
from psycopg import sql

from runbook_helpers.errors import UsageError
from runbook_helpers.scrub.policy import Rule
from runbook_helpers.scrub.schema import Column

FAKER_SEED = 20261125
DATE_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")
HASHABLE = ("text", "character varying", "character", "uuid", "citext")
FAKE_DOMAIN = "@example.invalid"
FAKE_URL = "https://example.invalid/"
FAKE_PHONE = "+1 555 0"  # 555-01xx style: reserved for fiction

Query = sql.SQL | sql.Composed  # what Connection.execute takes


@dataclass(frozen=True)
class Vocabulary:
    first: tuple[str, ...]
    last: tuple[str, ...]
    city: tuple[str, ...]
    sentence: tuple[str, ...]


@cache
def vocabulary() -> Vocabulary:
    """Faker's en_US names and cities (its provider lists), and sentences, the same every run."""
    fake = Faker("en_US")
    fake.seed_instance(FAKER_SEED)
    first = tuple(sorted(PersonProvider.first_names))
    cities = {
        f"{prefix} {name}{suffix}"
        for prefix in AddressProvider.city_prefixes
        for name in first[::7]
        for suffix in ("", *AddressProvider.city_suffixes[:3])
    }
    return Vocabulary(
        first=first,
        last=tuple(sorted(PersonProvider.last_names)),
        city=tuple(sorted(cities)),
        sentence=tuple(fake.sentence(nb_words=10) for _ in range(200)),
    )


def _array(words: tuple[str, ...]) -> sql.Composable:
    return sql.SQL("{}::text[]").format(sql.Literal(list(words)))


def functions(salt: str | None = None) -> list[Query]:
    """CREATE statements for the session's ``pg_temp`` helpers (salted hash, pickers, json)."""
    salt = salt or secrets.token_hex(16)
    v = vocabulary()
    pick = "create function pg_temp.{}(h bigint) returns text language sql immutable as $$ "
    return [
        sql.SQL(
            "create function pg_temp.hx(v text) returns text language sql immutable "
            "as $$ select md5({} || v) $$"
        ).format(sql.Literal(salt)),
        sql.SQL(
            "create function pg_temp.h(v text) returns bigint language sql immutable "
            "as $$ select ('x' || substr(pg_temp.hx(v), 1, 15))::bit(60)::bigint $$"
        ),
        *(
            sql.SQL(pick + "select ({})[1 + h % {}] $$").format(
                sql.Identifier(f"pick_{name}"), _array(words), sql.Literal(len(words))
            )
            for name, words in (
                ("first", v.first),
                ("last", v.last),
                ("city", v.city),
                ("sentence", v.sentence),
            )
        ),
        sql.SQL(
            "create function pg_temp.fake_text(v text) returns text language sql immutable as "
            "$$ select left(repeat(pg_temp.pick_sentence(pg_temp.h(v)) || ' ', "
            "1 + length(v) / 20), length(v)) $$"
        ),
        sql.SQL(
            "create function pg_temp.fake_str(v text) returns text language sql immutable as $$ "
            "select case when v ~ '^[^@[:space:]]+@[^@[:space:]]+$' then {email} "
            "when v ~* '^https?://' then {url} else pg_temp.fake_text(v) end $$"
        ).format(email=_expr("email", sql.SQL("v")), url=_expr("url", sql.SQL("v"))),
        sql.SQL(
            "create function pg_temp.fake_json(j jsonb) returns jsonb language plpgsql "
            "immutable as $$ begin case jsonb_typeof(j) "
            "when 'object' then return coalesce((select jsonb_object_agg(k, "
            "pg_temp.fake_json(e)) from jsonb_each(j) o(k, e)), '{}'); "
            "when 'array' then return coalesce((select jsonb_agg(pg_temp.fake_json(e) "
            "order by i) from jsonb_array_elements(j) with ordinality a(e, i)), '[]'); "
            "when 'string' then return to_jsonb(pg_temp.fake_str(j #>> '{}')); "
            "else return j; end case; end $$"
        ),
    ]


def _expr(kind: str, x: sql.Composable, arg: str = "") -> sql.Composable:
    """The fake value for one scalar ``x`` (an element of an array column is a scalar)."""
    t = sql.SQL("{}::text").format(x)
    h = sql.SQL("pg_temp.h({})").format(t)
    table: dict[str, sql.Composable] = {
        "email": sql.SQL("'user-' || left(pg_temp.hx({}), 16) || {}").format(
            t, sql.Literal(FAKE_DOMAIN)
        ),
        "name": sql.SQL("pg_temp.pick_first({h}) || ' ' || pg_temp.pick_last({h} / 7919)").format(
            h=h
        ),
        "first_name": sql.SQL("pg_temp.pick_first({})").format(h),
        "last_name": sql.SQL("pg_temp.pick_last({})").format(h),
        "city": sql.SQL("pg_temp.pick_city({})").format(h),
        "phone": sql.SQL("{} || lpad(({} % 10000000)::text, 7, '0')").format(
            sql.Literal(FAKE_PHONE), h
        ),
        "text": sql.SQL("pg_temp.fake_text({})").format(t),
        "url": sql.SQL("{} || left(pg_temp.hx({}), 16)").format(sql.Literal(FAKE_URL), t),
        "ip": sql.SQL("'192.0.2.' || (1 + {} % 254)").format(h),
        "json": sql.SQL("pg_temp.fake_json({}::jsonb)").format(x),
        "coarse": sql.SQL("round({}::numeric, 1)").format(x),
    }
    if kind == "choice":
        values = [s.strip() for s in arg.split(",")]
        return sql.SQL("({})[1 + floor(random() * {})::int]").format(
            _array(tuple(values)), sql.Literal(len(values))
        )
    return table[kind]


def check(column: Column, rule: Rule) -> str | None:
    """Why ``rule`` cannot apply to ``column`` (None when it can)."""
    if rule.kind == "null" and column.not_null:
        return "is NOT NULL: use fixed VALUE or fake KIND"
    if rule.kind == "shift" and column.element not in DATE_TYPES:
        return f"is {column.type}: shift needs a date or timestamp"
    if rule.kind == "hash" and column.element not in HASHABLE:
        return f"is {column.type}: hash needs text or uuid (use fake or fixed)"
    return None


def column_expr(column: Column, rule: Rule) -> sql.Composable | None:
    """The new value of ``column`` (None: keep it as it is)."""
    col = sql.Identifier(column.name)
    if rule.kind == "keep":
        return None
    if rule.kind == "null":
        return sql.SQL("null")
    if rule.kind == "fixed":
        return sql.SQL("{}::{}").format(sql.Literal(rule.arg), sql.SQL(column.type))
    x = sql.SQL("x") if column.is_array else col
    if rule.kind == "hash":
        scalar: sql.Composable = sql.SQL("pg_temp.hx({}::text)").format(x)
    elif rule.kind == "shift":
        days = int(rule.arg)
        scalar = sql.SQL("{} + (floor(random() * {})::int - {}) * interval '1 day'").format(
            x, sql.Literal(2 * days + 1), sql.Literal(days)
        )
    else:
        kind, _, arg = rule.arg.partition(" ")
        scalar = _expr(kind, x, arg)
    typed = sql.SQL("({})::{}").format(scalar, sql.SQL(column.element))
    if not column.is_array:
        return typed
    return sql.SQL(
        "case when {col} is null then null else array(select {typed} "
        "from unnest({col}) with ordinality u(x, i) order by i) end"
    ).format(col=col, typed=typed)


def table_statement(table: str, columns: list[Column], rules: dict[str, Rule]) -> Query:
    """DELETE for a dropped table, an UPDATE of every scrubbed column, or nothing (all keep)."""
    schema, name = table.split(".", 1)
    ident = sql.Identifier(schema, name)
    if any(r.kind == "drop" for r in rules.values()):
        return sql.SQL("delete from {}").format(ident)
    sets = []
    for col in columns:
        expr = column_expr(col, rules[col.name])
        if expr is not None:
            sets.append(sql.SQL("{} = {}").format(sql.Identifier(col.name), expr))
    if not sets:
        return sql.SQL("")
    return sql.SQL("update {} set {}").format(ident, sql.SQL(", ").join(sets))


def unusable(columns: list[Column], rule_of: dict[tuple[str, str], Rule]) -> None:
    """Raise UsageError listing every rule that cannot apply to its column's type."""
    problems = [
        f"{c.where} {why}"
        for c in columns
        if (why := check(c, rule_of[(c.table, c.name)])) is not None
    ]
    if problems:
        raise UsageError(
            f"the policy cannot apply: {'; '.join(problems)}; nothing was changed",
            hint="change those rules in the policy file and re-run",
        )
