"""Reading a push: the flat form WeChat sends is read by regular expression, every other body by ElementTree.
Whatever the body, both readings agree, or the flat one declines and ElementTree decides."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.wechat.inbound import BadPush, _flat_fields, _tree_fields, parse_inbound

EXAMPLES = int(os.environ.get("HEALTHBOT_FUZZ_EXAMPLES", "400")) * 5
XML_CHARS = st.characters(blacklist_categories=("Cs",), min_codepoint=9).filter(
    lambda c: c in "\t\n" or (ord(c) >= 0x20 and c not in "\ufffe\uffff"))
TRICKY = ["<![CDATA[", "]]>", "]", "<", ">", "&", "&amp;", "\r", "\r\n", "\x00", "\x0c", "\ufffe", "\u3000", "\x85",
          "</Content>", "<Content>", "<a/>", "<!-- c -->", "<?pi x?>", "<![CDATA[x]]>", "'", "文"]
plain = st.text(alphabet=XML_CHARS.filter(lambda c: c not in "<&]"), max_size=6)
cdata = st.text(alphabet=XML_CHARS, max_size=6).filter(lambda t: "]]>" not in t).map(lambda t: f"<![CDATA[{t}]]>")
content = st.one_of(plain, cdata, st.lists(plain | cdata | st.sampled_from(TRICKY), max_size=5).map("".join))
name = st.one_of(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,6}\Z"),
                 st.sampled_from(["Content", "MsgId", "x-y", "a.b", "文", "1a", "a:b"]))
field = st.tuples(name, content).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>")
space = st.sampled_from(["", "", " ", "\n", "\t", "\r\n", "\x0c"])
body = st.tuples(space, st.sampled_from(["<xml>", "<xml>", "<xml >", "<XML>", "<?xml version='1.0'?><xml>"]),
                 st.lists(st.tuples(space, field), max_size=6), space,
                 st.sampled_from(["</xml>", "</xml>", "</xml>x", "</XML>", ""]), space).map(
    lambda t: t[0] + t[1] + "".join(a + b for a, b in t[2]) + t[3] + t[4] + t[5])


@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), deadline=None)
@given(body)
def test_the_flat_reading_agrees_with_elementtree_or_declines(text: str) -> None:
    flat = _flat_fields(text)
    if flat is None:
        return
    try:
        tree = _tree_fields(text)
    except BadPush as exc:
        raise AssertionError(f"read flat, refused by ElementTree ({exc}): {text!r}") from None
    assert flat == tree


def test_what_wechat_sends_is_read_flat() -> None:
    push = ("<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oFlat_0001]]></FromUserName>\n"
            "<CreateTime>1795400000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event>"
            "<EventKey><![CDATA[venue:abc]]></EventKey><Ticket><![CDATA[t]]></Ticket></xml>")
    assert _flat_fields(push) == _tree_fields(push)
    message = parse_inbound(push.encode())
    assert (message.openid, message.event, message.event_key) == ("oFlat_0001", "scan", "venue:abc")


def test_the_flat_reading_stays_linear_on_hostile_bodies() -> None:
    hostile = ["<xml><A>" + "a" * 65000 + "</B></xml>", "<xml>" + "<A><![CDATA[" * 5000 + "</xml>",
               "<xml>" + "<A>x</A>" * 8000 + "<", "<xml><A>" + "]" * 65000 + "</A></xml>", "<xml>" + "<A>" * 15000]
    started = time.process_time()
    assert all(_flat_fields(text) is None for text in hostile)
    assert time.process_time() - started < 0.5  # quadratic would take minutes


def test_a_dtd_is_refused_but_its_words_typed_in_a_message_are_text() -> None:
    typed = (b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser_1]]></FromUserName>"
             b"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
             b"<Content><![CDATA[<!DOCTYPE html>]]></Content><MsgId>1</MsgId></xml>")
    assert parse_inbound(typed).content == "<!DOCTYPE html>"
    declared = b'<!DOCTYPE x [<!ENTITY a "oUser_1">]>' + typed.replace(b"<![CDATA[oUser_1]]>", b"&a;")
    with pytest.raises(BadPush, match="DTD"):
        parse_inbound(declared)
