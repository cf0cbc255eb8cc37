"""Signatures: Twilio known answer + official validator, Telnyx Ed25519, jambonz HMAC-SHA256."""
import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, strategies as st
from twilio.request_validator import RequestValidator

from fsbridge.callbacks import signing

# twilio-python tests/unit/test_request_validator.py known-answer vector
KA_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
KA_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_twilio_known_answer():
    assert signing.twilio_signature("12345", KA_URL, KA_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_signature_accepted_by_official_validator_and_port_matters():
    url = "http://127.0.0.1:8123/cb?x=1"
    params = {"B": "2", "A": "1", "Muted": "false"}
    sig = signing.twilio_signature("tok", url, params)
    assert RequestValidator("tok").validate(url, params, sig)
    assert not RequestValidator("other").validate(url, params, sig)
    assert sig != signing.twilio_signature("tok", "http://127.0.0.1:8124/cb?x=1", params)


def test_twilio_pairs_form_equals_mapping_form():
    pairs = list(KA_PARAMS.items())[::-1]
    assert signing.twilio_signature("12345", KA_URL, pairs) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_idempotency_token_stable_and_distinct():
    a = signing.twilio_idempotency_token("CF1", 1, "status")
    assert a == signing.twilio_idempotency_token("CF1", 1, "status")
    assert a != signing.twilio_idempotency_token("CF1", 2, "status")


@given(parts=st.lists(st.one_of(st.text(), st.integers()), max_size=5))
def test_idempotency_token_is_the_uuid5_of_the_parts(parts):
    """Formatted by hand for speed, the token is exactly ``uuid.uuid5`` (RFC 4122 name-based, SHA-1)."""
    import uuid
    expected = str(uuid.uuid5(signing._IDEMPOTENCY_NAMESPACE, "|".join(str(p) for p in parts)))
    assert signing.twilio_idempotency_token(*parts) == expected


def test_telnyx_ed25519_roundtrip():
    key = Ed25519PrivateKey.generate()
    body = b'{"a":1}'
    headers = signing.telnyx_headers(key, 1700000000, body)
    assert headers["telnyx-timestamp"] == "1700000000"
    sig = headers["telnyx-signature-ed25519"]
    key.public_key().verify(base64.b64decode(sig), b"1700000000|" + body)
    assert signing.telnyx_verify(key.public_key(), "1700000000", body, sig)
    assert not signing.telnyx_verify(key.public_key(), "1700000001", body, sig)


def test_jambonz_signature_matches_independent_hmac():
    body = b'{"event":"join"}'
    header = signing.jambonz_signature("sekret", 1700000000, body)
    expect = hmac.new(b"sekret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expect}"
    assert signing.jambonz_verify("sekret", header, body)
    assert not signing.jambonz_verify("sekret", header, body + b" ")
