"""Names and arguments are checked with re.fullmatch and at enqueue time (Hypothesis)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis.tasks import InvalidTaskName, Schedule, TaskArgumentsError, task
from trellis.tasks._json import check_json_kwargs
from trellis.tasks._names import TASK_NAME, validate_queue_name, validate_task_name

IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@given(st.lists(IDENT, min_size=2, max_size=5))
def test_dotted_identifiers_are_valid_names(parts: list[str]) -> None:
    name = ".".join(parts)
    assert validate_task_name(name) == name


@given(st.text(max_size=40))
def test_a_name_is_valid_exactly_when_it_fullmatches(text: str) -> None:
    valid = bool(re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", text, re.ASCII))
    if valid:
        assert validate_task_name(text) == text
    else:
        with pytest.raises(InvalidTaskName, match="is invalid"):
            validate_task_name(text)


@pytest.mark.parametrize(
    "bad",
    [
        "blobs",
        "Blobs.reap",
        "blobs.reap\n",
        "blobs..reap",
        ".blobs",
        "blobs.",
        "blobs.ré",
        "1blobs.reap",
        "blobs reap",
        "x." + "a" * 200,
        None,
        3,
    ],
)
def test_bad_names_are_refused_with_the_value(bad: object) -> None:
    with pytest.raises(InvalidTaskName, match=re.escape(repr(bad))):
        validate_task_name(bad)
    assert TASK_NAME.fullmatch("blobs.reap")


@pytest.mark.parametrize("bad", ["", "Blobs", "a b", "a" * 65, "-a"])
def test_bad_queue_names(bad: str) -> None:
    with pytest.raises(InvalidTaskName, match="queue name"):
        validate_queue_name(bad)


# Storable text: PostgreSQL refuses NUL, and a lone surrogate (category Cs) is not UTF-8.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(IDENT, JSON, max_size=4))
def test_json_values_pass(kwargs: dict[str, object]) -> None:
    check_json_kwargs("t.x", kwargs)


@pytest.mark.parametrize(
    ("value", "where", "kind"),
    [
        (datetime(2026, 1, 1), "'arg'", "datetime.datetime"),
        (date(2026, 1, 1), "'arg'", "datetime.date"),
        ({1, 2}, "'arg'", "a set"),
        (object(), "'arg'", "a object"),
        (Decimal("1.5"), "'arg'", "decimal.Decimal"),
        ((1, 2), "'arg'", "a tuple"),
        (b"x", "'arg'", "a bytes"),
        (float("nan"), "'arg'", "non-finite float"),
        ({"a": [1, {"b": {3}}]}, "'arg' at arg['a'][1]['b']", "a set"),
        ({1: "x"}, "'arg'", "dict key of type int"),
    ],
)
def test_non_json_arguments_are_refused_naming_argument_and_type(
    value: object, where: str, kind: str
) -> None:
    with pytest.raises(TaskArgumentsError) as caught:
        check_json_kwargs("t.x", {"arg": value})
    message = str(caught.value)
    assert f"task 't.x': argument {where}" in message
    assert kind in message and "JSON values" in message


def test_task_decorator_defaults_and_direct_call() -> None:
    def double(n: int) -> int:
        return n * 2

    double.__module__ = "trellis.mail.jobs"
    made = task(double)
    assert (made.name, made.queue) == ("mail.jobs.double", "mail")
    assert made(n=4) == 8
    double.__module__ = "My-Project.jobs"
    with pytest.raises(InvalidTaskName, match=r"'My-Project\.jobs\.double' is invalid"):
        task(double)

    named = task(name="mail.send", durable=True, max_retries=0)(lambda to: to)
    assert (named.name, named.queue, named.durable, named.max_retries) == (
        "mail.send",
        "mail",
        True,
        0,
    )
    with pytest.raises(InvalidTaskName, match="max_retries"):
        task(name="mail.x", max_retries=-1)(lambda: None)


def test_schedule_validation() -> None:
    job = task(name="mail.digest")(lambda user_id=0: None)
    with pytest.raises(InvalidTaskName, match="exactly one of every"):
        Schedule("mail.digest", job)
    with pytest.raises(InvalidTaskName, match="five fields"):
        Schedule("mail.digest", job, crontab="* *")
    from datetime import timedelta

    with pytest.raises(TaskArgumentsError, match="datetime"):
        Schedule("mail.digest", job, every=timedelta(1), kwargs={"user_id": datetime(2026, 1, 1)})
