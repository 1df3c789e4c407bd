"""Schemathesis hooks for Baton's wire contract (scripts/contract.sh).

Baton's OpenAPI document marks three strings whose rules JSON Schema cannot state with
custom formats; these strategies generate valid values for them, so that schemathesis'
positive tests send what the server must accept. Their syntax is also stated as a pattern
in the document, which negative tests violate.
"""

import schemathesis
from hypothesis import strategies as st

# A few IANA zones every tz database has (Foundation reads the system's).
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo"]


def field(low, high, names=()):
    """One valid cron field over [low, high]: *, a value, a range, a step, a list or a name."""
    value = st.integers(low, high).map(str)
    if names:
        value = st.one_of(value, st.sampled_from(names))
    rng = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda p: f"{min(p)}-{max(p)}"
    )
    step = st.tuples(st.sampled_from(["*", str(low)]), st.integers(1, high - low + 1)).map(
        lambda p: f"{p[0]}/{p[1]}"
    )
    lst = st.lists(st.integers(low, high), min_size=1, max_size=4).map(
        lambda xs: ",".join(str(x) for x in xs)
    )
    return st.one_of(st.just("*"), value, rng, step, lst)


MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

five = st.tuples(
    field(0, 59), field(0, 23), field(1, 31), field(1, 12, MONTHS), field(0, 7, DAYS)
).map(" ".join)
six = st.tuples(field(0, 59), five).map(" ".join)
macros = st.sampled_from(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"])

schemathesis.openapi.format("baton-cron", st.one_of(five, six, macros))
schemathesis.openapi.format(
    "baton-interval",
    st.one_of(
        st.integers(1, 86400).map(lambda n: f"{n}s"),
        st.integers(1, 1440).map(lambda n: f"{n}m"),
        st.tuples(st.integers(1, 48), st.integers(0, 59)).map(lambda p: f"{p[0]}h{p[1]}m"),
        st.integers(1000, 10**6).map(lambda n: f"{n}ms"),
    ),
)
schemathesis.openapi.format("baton-timezone", st.sampled_from(ZONES))
