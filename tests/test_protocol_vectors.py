"""The official Tencent sample vectors (docs/wechat.md), byte for byte."""

from __future__ import annotations

import pytest

from bot.wechat.crypto import EnvelopeError, MessageCipher
from bot.wechat.signing import signature_ok, wechat_signature
from tests.vectors import A_ENCRYPT, A_PLAIN, B_ENCRYPT, B_PLAIN

A_TOKEN, A_KEY, A_APPID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"

B_TOKEN, B_KEY, B_ID = "123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a"


def test_plain_signature_official_examples() -> None:
    assert wechat_signature("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    assert wechat_signature("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    assert wechat_signature(A_TOKEN, "1409735669", "1320562132") == "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"


def test_signature_check_refuses_wrong_and_missing() -> None:
    assert signature_ok("f464b24fc39322e44b38aa78f5edd27bd1441696", "AAAAA", "1714036504", "1514711492")
    assert not signature_ok("f464b24fc39322e44b38aa78f5edd27bd1441697", "AAAAA", "1714036504", "1514711492")
    assert not signature_ok(None, "AAAAA", "1714036504", "1514711492")
    assert not signature_ok("", "AAAAA", "1714036504", "1514711492")


def test_official_sample_a_verifies_and_decrypts() -> None:
    cipher = MessageCipher(A_TOKEN, A_KEY, A_APPID)
    assert cipher.key.hex() == "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    assert cipher.verify("5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132", A_ENCRYPT)
    assert cipher.decrypt(A_ENCRYPT).decode() == A_PLAIN


def test_sample_b_encrypts_deterministically_with_a_fixed_prefix() -> None:
    cipher = MessageCipher(B_TOKEN, B_KEY, B_ID)
    encrypt = cipher.encrypt(B_PLAIN, prefix="1234567890123456")
    assert encrypt == B_ENCRYPT
    assert wechat_signature(B_TOKEN, "1411525903", "461056294", encrypt) == "407518b7649e86ef23978113f92d27afa9296533"


def test_sample_d_round_trip() -> None:
    cipher = MessageCipher(A_TOKEN, A_KEY, A_APPID)
    encrypt = cipher.encrypt("<xml><Content><![CDATA[hello]]></Content></xml>", prefix="a" * 16)
    assert encrypt == (
        "5I0ViYLQqCiDyNw9bygZh4UBiAs8h+86JMw60iRJoBnTBhasYiMhUBjDMV17JZ79KVpDth5g7CzSF678o4enewc4mE9aDWsV0w+gicIW25P5"
        "wwtt60ME2RuygO+vW238"
    )
    assert wechat_signature(A_TOKEN, "1409735669", "1320562132", encrypt) == "754aafe46788f3fc24cd83215baa90344f1589b5"


def test_random_prefix_differs_each_time_and_another_app_id_is_refused() -> None:
    cipher = MessageCipher(A_TOKEN, A_KEY, A_APPID)
    assert cipher.encrypt("x") != cipher.encrypt("x")
    other = MessageCipher(A_TOKEN, A_KEY, "wx0000000000000000")
    with pytest.raises(EnvelopeError):
        other.decrypt(A_ENCRYPT)
    with pytest.raises(EnvelopeError):
        cipher.decrypt("bm90IGEgdmFsaWQgY2lwaGVydGV4dA==")


def test_short_or_garbled_plaintext_is_an_envelope_error() -> None:
    """Found by the fuzzer: 16 zero bytes decrypt to a buffer too short for the length field."""
    cipher = MessageCipher(A_TOKEN, A_KEY, A_APPID)
    for encrypt in ("AAAAAAAAAAAAAAAAAAAAAA==", "A" * 44, cipher.encrypt("x")[:24]):
        with pytest.raises(EnvelopeError):
            cipher.decrypt(encrypt)
