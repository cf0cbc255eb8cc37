"""REST dial-outs that cannot complete, end to end over real HTTP (BridgeServer on the standalone engine):
create Participant → 201 ``queued`` (GET finds it at once) → the virtual callee cannot be placed (its To is
an unreadable file) → the conference's statusCallback receives participant-leave with
ReasonParticipantLeft ``participant_add_failed`` and ParticipantCallStatus ``failed`` → GET shows the
participant ``failed``. Source: twilio-twiml-conference-noun.txt statusCallback table."""
import requests

from test_api_bridge import AC, NUMBER, TOKEN, bridge_server  # noqa: F401 - the fixture


def create(server, conference, **data):
    return requests.post(f"{server.base_url}/2010-04-01/Accounts/{AC}/Conferences/{conference}/Participants.json",
                         data=data, auth=(AC, TOKEN), timeout=10)


def get(server, path):
    return requests.get(f"{server.base_url}/2010-04-01/Accounts/{AC}/{path}", auth=(AC, TOKEN), timeout=10)


def test_unplayable_dial_out_is_queued_then_reported_as_add_failed(bridge_server):  # noqa: F811
    server, customer = bridge_server
    missing = server.settings.audio_dir + "/no-such-callee.wav"
    r = create(server, "support", From="+15550001", To="file:" + missing, Label="agent",
               ConferenceStatusCallback=customer.base + "/status",
               ConferenceStatusCallbackEvent="start end join leave")
    assert r.status_code == 201, r.text
    body = r.json()
    call_sid, conference_sid = body["call_sid"], body["conference_sid"]
    assert body["status"] == "queued" and body["label"] == "agent" and conference_sid.startswith("CF")
    leave = customer.wait_for(lambda cb: cb.get("StatusCallbackEvent") == "participant-leave")
    assert leave["CallSid"] == call_sid and leave["ConferenceSid"] == conference_sid
    assert leave["ReasonParticipantLeft"] == "participant_add_failed"
    assert leave["ParticipantCallStatus"] == "failed"
    assert leave["ParticipantLabel"] == "agent" and leave["SequenceNumber"] == "1"
    # the conference had only this dial-out: it ends (never started); docs/domain.md
    end = customer.wait_for(lambda cb: cb.get("StatusCallbackEvent") == "conference-end")
    assert end["ReasonConferenceEnded"] == "last-participant-left" and end["SequenceNumber"] == "2"
    assert not [cb for cb in customer.callbacks if cb.get("StatusCallbackEvent") in ("conference-start",
                                                                                      "participant-join")]
    part = get(server, f"Conferences/{conference_sid}/Participants/{call_sid}.json")
    assert part.status_code == 200 and part.json()["status"] == "failed", part.text
    assert get(server, f"Conferences/{conference_sid}/Participants/agent.json").json()["call_sid"] == call_sid
    conf = get(server, f"Conferences/{conference_sid}.json").json()
    assert conf["status"] == "completed" and conf["reason_conference_ended"] == "last-participant-left"


def test_dial_out_into_a_live_conference_fails_without_disturbing_it(bridge_server):  # noqa: F811
    """The failed dial-out never counts as a member: the caller's conference stays as it was."""
    server, customer = bridge_server
    bridge = server.bridge
    caller = bridge.place_call(AC, "+15551111", NUMBER, "silence:", hangup_after_s=30.0)
    joined = customer.wait_for(lambda cb: cb.get("StatusCallbackEvent") == "participant-join")
    conference_sid = joined["ConferenceSid"]
    r = create(server, conference_sid, From="+15550001", To="file:" + server.settings.audio_dir + "/gone/callee.wav")
    assert r.status_code == 201 and r.json()["status"] == "queued", r.text
    call_sid = r.json()["call_sid"]
    assert get(server, f"Conferences/{conference_sid}/Participants/{call_sid}.json").status_code == 200
    # the customer's conference subscribes to join only: the failure is in the store, not called back
    assert bridge.wait_until(lambda: server.store.participant(AC, conference_sid, call_sid).status == "failed", 10)
    info = bridge.state.conference(conference_sid)
    assert info.status == "init" and info.member_count == 1
    listed = get(server, f"Conferences/{conference_sid}/Participants.json").json()["participants"]
    assert [p["call_sid"] for p in listed] == [caller.call_sid]
    caller.leg.hangup()
    assert bridge.wait_call(caller.call_sid, 10)
