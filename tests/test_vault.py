"""Sealed data: JSON as json.dumps would write it, read back as it was, and only in its own context."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.profiles import Person, open_person, seal_person
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


def test_a_person_sealed_in_either_form_opens_the_same() -> None:
    """Profiles claimed before the one-letter fields keep working, and neither form opens for another user."""
    vault = Vault(b"i" * 32, b"d" * 32)
    person = Person("张小三", "resident_id", "11010519491231002X", "13800138000", "")
    earlier = vault.seal_json({"name": person.name, "doc_type": person.doc_type, "doc_number": person.doc_number,
                               "phone": person.phone, "nationality": ""}, context="oHolder")
    for sealed in (earlier, seal_person(vault, "oHolder", person)):
        assert open_person(vault, "oHolder", sealed) == person
        with pytest.raises(SealError):
            open_person(vault, "oSomeoneElse", sealed)


def test_nonces_are_never_repeated_within_a_process_or_across_a_fork() -> None:
    vault = Vault(b"i" * 32, b"d" * 32)
    nonces = {vault.seal(b"x")[1:13] for _ in range(1000)}
    assert len(nonces) == 1000  # four batches of the pool, each nonce once
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child seals from its own pool, not from what it inherited
        os.write(write, b"".join(vault.seal(b"x")[1:13] for _ in range(50)))
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 12 * 50)
    parent = [vault.seal(b"x")[1:13] for _ in range(50)]
    assert not {child[i:i + 12] for i in range(0, len(child), 12)} & set(parent)
