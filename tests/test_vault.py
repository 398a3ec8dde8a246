"""Sealed JSON: what is written is what json.dumps would write, and reads back as it was."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.vault import SealError, Vault, compact_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_compact_json_is_json_dumps_compact_form(value: object) -> None:
    assert compact_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(json_values)
def test_sealed_json_reads_back_only_in_its_context(value: object) -> None:
    vault = Vault(b"i" * 32, b"d" * 32)
    sealed = vault.seal_json(value, context="entry:venue:x")
    assert vault.open_json(sealed, context="entry:venue:x") == value
    with pytest.raises(SealError):
        vault.open_json(sealed, context="entry:venue:y")


def test_a_value_json_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        compact_json({"at": {1, 2}})
