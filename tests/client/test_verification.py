"""Safety numbers: symmetric, order-free, sensitive to every key."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from calpico.client.verification import fingerprint_digits, format_safety_number, safety_number

keys = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=4, unique=True)


@given(keys, keys)
def test_both_people_see_the_same_number_whatever_the_key_order(a: list[bytes], b: list[bytes]) -> None:
    number = safety_number("alice", a, "bob", b)
    assert number == safety_number("bob", list(reversed(b)), "alice", list(reversed(a)))
    assert len(number) == 60 and number.isdigit()


@given(keys, keys)
def test_any_added_or_replaced_key_changes_it(a: list[bytes], b: list[bytes]) -> None:
    number = safety_number("alice", a, "bob", b)
    assert safety_number("alice", [*a, os.urandom(32)], "bob", b) != number
    assert safety_number("alice", a, "bob", [os.urandom(32), *b[1:]]) != number


def test_the_username_is_part_of_each_half() -> None:
    key = [b"k" * 32]
    assert fingerprint_digits("alice", key) != fingerprint_digits("mallory", key)


def test_format_groups_of_five() -> None:
    number = safety_number("a", [b"1" * 32], "b", [b"2" * 32])
    groups = format_safety_number(number).split(" ")
    assert len(groups) == 12 and all(len(g) == 5 for g in groups) and "".join(groups) == number
