"""#14 items 2, 5, 6 and 9 through the REST API of a served bridge (real HTTP, two accounts): local media
refused, another account's number indistinguishable from an unknown one, every hostile parameter a 400 with
a Twilio code (never a 5xx), large bodies 413 before they are read, Calls.json paging; the stock ESL
password refused; the audio cache bounded."""
from __future__ import annotations

import os
import socket

import pytest

from fsbridge import config
from fsbridge.app import make_engine
from fsbridge.runtime.media import MediaResolver
from security_support import AC, AC_B, NUMBER_B, TOKEN_B, Site, bridge, call, rest, twilio_error, xml


@pytest.fixture
def served(tmp_path):
    app = Site()
    media = tmp_path / "media"
    media.mkdir()
    server = bridge(tmp_path, app, media_dirs=(str(media),))
    yield server, app, media
    server.stop()
    app.stop()


def test_local_media_only_from_configured_dirs(served, tmp_path):
    """Item 2: REST To=file:/etc/passwd (Participants) and To=file:/dev/zero (Calls) are 400, as are paths
    that leave the media directory through ``..``; tone: and files inside the directory are accepted."""
    server, app, media = served
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF")
    for to in ("file:/etc/passwd", "/etc/passwd", "file:///dev/zero", f"file:{media}/../secret.wav",
               "file:" + str(secret)):
        r = rest(server, "Conferences/Room/Participants.json", {"From": "+1555", "To": to})
        twilio_error(r, 400, 21201)
        r = rest(server, "Calls.json", {"From": "+1555", "To": to, "Url": app.url + "/voice"})
        twilio_error(r, 400, 21201)
        r = rest(server, "Calls.json", {"From": "+1555", "To": NUMBER_B, "Media": to}, account=AC_B,
                 token=TOKEN_B)
        twilio_error(r, 400, 21201)
    assert rest(server, "Conferences/Room/Participants.json", {"From": "+1555", "To": "tone:440"}).status_code == 201
    ok = media / "callee.wav"
    ok.write_bytes(b"not really audio")
    r = rest(server, "Calls.json", {"From": "+1555", "To": "file:" + str(ok), "Url": app.url + "/voice"})
    assert r.status_code in (201, 400) and r.status_code < 500, r.text   # accepted, or 400 unreadable audio


def test_markup_play_of_a_local_file_is_refused(served):
    server, app, media = served
    app.routes["/voice"] = lambda req: xml("<Response><Play>file:///etc/passwd</Play><Play>/etc/hostname</Play>"
                                           "</Response>")
    from fsbridge.media_policy import MediaRefused, markup_media
    for ref in ("tone_stream://{var=1}/etc/passwd", "local_stream://moh", "shell_stream:///bin/id",
                "silence_stream://1 x"):
        with pytest.raises(MediaRefused):
            markup_media(ref)
    assert markup_media("tone_stream://%(1000,0,440)") == markup_media("silence_stream://500") == "engine"
    sid = call(server, app.url + "/voice")
    assert server.bridge.wait_call(sid, 20)
    assert [code for code, _ in server.bridge.registry.get(sid).errors][:1] == [11100]


def test_another_accounts_number_is_indistinguishable_from_an_unknown_one(served):
    """Item 5: From= B's number does not run B's voice URL under A; To= B's number answers exactly as an
    unknown number does."""
    server, app, media = served
    r = rest(server, "Calls.json", {"From": NUMBER_B, "To": "tone:440"})
    unknown = rest(server, "Calls.json", {"From": "+15559999999", "To": "tone:440"})
    assert (r.status_code, r.json()["code"]) == (unknown.status_code, unknown.json()["code"]) == (400, 21205)
    assert r.json()["message"].replace(NUMBER_B, "N") == unknown.json()["message"].replace("+15559999999", "N")
    r = rest(server, "Calls.json", {"From": "+1555", "To": NUMBER_B, "Media": "tone:440"})
    unknown = rest(server, "Calls.json", {"From": "+1555", "To": "+15559999999", "Media": "tone:440"})
    assert (r.status_code, r.json()["code"]) == (unknown.status_code, unknown.json()["code"])
    assert r.json()["message"].replace(NUMBER_B, "N") == unknown.json()["message"].replace("+15559999999", "N")
    assert "/voice-b" not in app.paths()


@pytest.mark.parametrize("path,query", [
    ("Conferences.json", {"Page": str(10 ** 18)}),
    ("Conferences.json", {"Page": "1_000"}),
    ("Conferences.json", {"Page": "9" * 18}),
    ("Conferences.json", {"PageSize": "9" * 5000}),
    ("Conferences.json", {"DateCreated": "9999-12-31"}),
    ("Conferences.json", {"DateCreated<": "9999-12-31"}),
    ("Conferences.json", {"DateUpdated>": "0001-01-01"}),
    ("Conferences/{cf}/Recordings.json", {"DateCreated>": "9999-12-31"}),
    ("Conferences/{cf}/Recordings.json", {"DateCreated": "9999-12-31"}),
    ("Conferences/{cf}/Recordings.json", {"Page": str(10 ** 18), "PageSize": "1000"}),
    ("Conferences/{cf}/Participants.json", {"Page": str(10 ** 18)}),
    ("Conferences.json", {"PageToken": "PA" + "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OXx4"}),
    ("Calls.json", {"PageSize": "0"}),
    ("Calls.json", {"Page": str(10 ** 18)}),
])
def test_hostile_list_parameters_are_400(served, path, query):
    server, _, _ = served
    if "{cf}" in path:
        made = rest(server, "Conferences/Room/Participants.json", {"From": "+1555", "To": "tone:440"})
        path = path.format(cf=made.json()["conference_sid"])
    twilio_error(rest(server, path, method="GET", params=query), 400, 21201)


@pytest.mark.parametrize("data", [
    {"TimeLimit": "inf"}, {"TimeLimit": "nan"}, {"TimeLimit": "1e308"}, {"TimeLimit": "-1"},
    {"Dtmf": "1@1e308"}, {"Dtmf": "1@inf"}, {"Dtmf": "1@-5"}, {"SendDigits": "x"},
    {"To": "file:/dev/zero"}, {"Url": "file:///etc/passwd"}, {"Url": "gopher://x"},
])
def test_hostile_call_parameters_are_400(served, data):
    server, app, _ = served
    form = {"To": "tone:440", "From": "+1555", "Url": app.url + "/voice", **data}
    body = twilio_error(rest(server, "Calls.json", form), 400)
    assert 21000 <= body["code"] < 22000, body


def test_calls_json_honours_page_size(served):
    server, app, _ = served
    sids = [call(server, app.url + "/voice") for _ in range(3)]
    first = rest(server, "Calls.json", method="GET", params={"PageSize": "2"}).json()
    assert first["page_size"] == 2 and len(first["calls"]) == 2 and first["next_page_uri"]
    second = rest(server, "Calls.json", method="GET", params={"PageSize": "2", "Page": "1"}).json()
    assert len(second["calls"]) == 1 and second["next_page_uri"] is None
    assert {c["sid"] for c in first["calls"] + second["calls"]} == set(sids)


def test_large_bodies_get_413_before_they_are_read(served):
    """A declared Content-Length over the limit is refused at once: the server answers without waiting for
    (or buffering) the body, which is never sent here."""
    server, _, _ = served
    host, port = server.base_url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((f"POST /2010-04-01/Accounts/{AC}/Calls.json HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      f"Content-Length: {200 * 1024 * 1024}\r\n\r\n").encode())
        sock.sendall(b"To=" + b"x" * 1000)
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head[:200]
    assert '"code":20413' in head.replace(" ", ""), head
    small = rest(server, "Calls.json", {"To": "tone:440", "From": "x", "Pad": "y" * (2 * 1024 * 1024)})
    twilio_error(small, 413, 20413)


def test_stock_esl_password_is_refused_unless_opted_in(tmp_path):
    """Item 9: the FreeSWITCH engine is not built with the stock password ClueCon without an opt-in."""
    cfg = tmp_path / "fsbridge.toml"
    cfg.write_text('[engine]\ntype = "freeswitch"\n')
    settings = config.load(str(cfg), env={})
    with pytest.raises(config.ConfigError, match="ClueCon"):
        make_engine(settings)
    opted = config.load(str(cfg), env={"FSBRIDGE_ESL_ALLOW_STOCK_PASSWORD": "1"})
    config.check_esl_password(opted)
    config.check_esl_password(config.load(str(cfg), env={"FSBRIDGE_ESL_PASSWORD": "s3cret"}))


def test_audio_cache_is_bounded_lru(tmp_path):
    app = Site()
    try:
        for name in ("a", "b", "c"):
            app.routes[f"/{name}.wav"] = lambda req: xml("x" * 4000)
        media = MediaResolver(str(tmp_path / "cache"), max_bytes=9000)
        a = media.play(app.url + "/a.wav")
        b = media.play(app.url + "/b.wav")
        os.utime(b, (1, 1))                      # b is the least recently used now
        assert media.play(app.url + "/a.wav") == a
        c = media.play(app.url + "/c.wav")
        assert os.path.exists(a) and os.path.exists(c) and not os.path.exists(b)
        assert sum(f.stat().st_size for f in (tmp_path / "cache").iterdir()) <= 9000
    finally:
        app.stop()


def test_database_file_is_private(served):
    server, _, _ = served
    path = server.settings.database_url.split("sqlite:///", 1)[1]
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_security_settings_parse_and_validate(tmp_path):
    cfg = tmp_path / "fsbridge.toml"
    cfg.write_text('[egress]\nallow = ["127.0.0.0/8", "10.0.0.0/8"]\ndeny = ["10.9.0.0/16"]\n'
                   '[media]\ndirs = ["/srv/media"]\ncache_max_mb = 64\n[http]\nmax_body_bytes = 4096\n'
                   '[freeswitch]\nallow_stock_password = true\n')
    s = config.load(str(cfg), env={})
    assert s.egress_allow == ("127.0.0.0/8", "10.0.0.0/8") and s.egress_deny == ("10.9.0.0/16",)
    assert s.media_dirs == ("/srv/media",) and s.audio_cache_max_bytes == 64 * 2 ** 20
    assert s.max_body_bytes == 4096 and s.esl_allow_stock_password
    assert config.load(None, env={"FSBRIDGE_EGRESS_ALLOW": "::1, 127.0.0.1"}).egress_allow == ("::1", "127.0.0.1")
    defaults = config.load(None, env={})
    assert defaults.egress_allow == () and defaults.media_dirs == () and defaults.max_body_bytes == 2 ** 20
    cfg.write_text('[egress]\nallow = ["localhost"]\n')
    with pytest.raises(config.ConfigError, match="egress.allow"):
        config.load(str(cfg), env={})


def test_generated_vagrant_config_allows_the_loopback_example_app():
    import re
    import tomllib
    script = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "vagrant", "provision.sh")).read()
    toml = re.search(r"<<TOML\n(.*?)\nTOML\n", script, re.S).group(1)
    data = tomllib.loads(toml.replace("$ACCOUNT_SID", "AC" + "0" * 32).replace("$AUTH_TOKEN", "t"))
    from fsbridge.egress import EgressPolicy
    policy = EgressPolicy(data["egress"]["allow"], own=[(data["server"]["host"], data["server"]["port"])])
    for number in data["numbers"]:
        assert number["voice_url"].startswith("http://127.0.0.1:8090/") and policy.allowed("127.0.0.1", 8090)
    assert not policy.allowed("127.0.0.1", data["server"]["port"])    # never the bridge itself
    settings = config.from_mapping(data)
    policy = EgressPolicy.from_settings(settings)
    assert policy.allowed("127.0.0.1", 8090)
    for port in (settings.port, settings.esl_port, settings.outbound_port):   # REST, ESL, outbound socket
        assert not policy.allowed("127.0.0.1", port), port
