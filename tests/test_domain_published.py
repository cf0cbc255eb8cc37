"""The domain's record of what the store holds of each participant (``MemberRecord.published`` /
``first_published`` / ``last_published``, read through ``ConferenceState.published_participant``; issue 21:
a REST write answers from it instead of a store read) equals a fold of the events the domain emitted — the
fold the store applies: a participant row takes the view of the last event carrying it, ``date_updated`` =
that event's time, ``date_created`` = its first event's (a REST dial-out's: when queued) — after every step
of a scenario with talk, mute, hold, coaching, a coached participant leaving (the coach's state changes
with no event of its own), a dial-out and a rejoin; and on restore it is the stored row."""
from __future__ import annotations

from fsbridge.conference.testing import Harness
from fsbridge.conference.restore import StoredConference
from fsbridge.conference.state import ConferenceState
from test_recovery_domain import CB, T0, stored


def _fold(events, rows):
    for e in events:
        v = e.participant
        if v is None:
            continue
        first = rows.get(v.call_sid, (None, None, None))[1]
        rows[v.call_sid] = (v, first or e.timestamp, e.timestamp)


def _queued(h: Harness, rows, call_sid: str):
    """A REST dial-out: ``Store.record_queued`` writes its row with the queued participant's date_created."""
    events = h.dial_out(call_sid, "Room")
    rows[call_sid] = (None, h.state.participant_of_call(call_sid).date_created, None)
    return events


def _check(h: Harness, rows, name="Room"):
    sid = h.sid_of(name)
    for call_sid, (view, first, last) in rows.items():
        got = h.state.published_participant(h.account_sid, sid, call_sid)
        if view is None or view.status != "connected" or h.state.participant(sid, call_sid) is None:
            continue
        assert got == (view, first, last), call_sid
        assert h.state.published_participant("AC" + "0" * 32, sid, call_sid) is None   # account-scoped


def test_the_published_record_is_the_fold_of_the_emitted_events():
    h = Harness()
    rows = {}
    steps = [
        lambda: h.join("CAa", "Room", from_="+1", to="+2"), lambda: h.join("CAb", "Room"),
        lambda: h.join("CAc", "Room", participant_label="carol"),
        lambda: h.talk("CAa"), lambda: h.talk("CAa", False), lambda: h.mute("Room", "CAa"),
        lambda: h.mute("Room", "CAa"), lambda: h.hold("Room", "carol"), lambda: h.hold("Room", "carol", False),
        lambda: h.run(h.state.modify(h.account_sid, h.sid_of("Room"), "CAc", coaching=True,
                                     call_sid_to_coach="CAb")),
        lambda: h.talk("CAb"), lambda: h.hangup("CAb"),            # carol stops coaching: no event of hers
        lambda: h.mute("Room", "carol"),                            # … until this one carries her view
        lambda: h.join("CAb", "Room"), lambda: h.mute("Room", "CAb"),   # the same call again: its row's date_created
        lambda: _queued(h, rows, "CAd"), lambda: h.join("CAd", "Room"), lambda: h.mute("Room", "CAd"),
        lambda: h.run(h.state.modify(h.account_sid, h.sid_of("Room"), "CAa", end_conference_on_exit=True)),
    ]
    for i, step in enumerate(steps):
        h.engine.advance(1.5)
        events = step()
        _fold(events, rows)
        _check(h, rows)
    sid = h.sid_of("Room")
    h.hangup("CAb")
    assert h.state.published_participant(h.account_sid, sid, "CAb") is None       # left: the store decides
    assert h.state.published_participant(h.account_sid, sid, "carol") is None     # a label: not looked up
    dialed = h.state.published_participant(h.account_sid, sid, "CAd")
    joined = next(e.timestamp for e in h.events if e.name == "participant-join" and e.participant.call_sid == "CAd")
    assert dialed[1] == h.state.participant(sid, "CAd").date_created < joined   # created when queued


def test_a_restored_participant_is_published_as_stored():
    st = ConferenceState(clock=lambda: T0.timestamp() + 60)
    st.restore([stored()])
    got = st.published_participant("AC1", "CF1", "CAa")
    assert got is not None and got[0].call_sid == "CAa" and got[1] == T0 and not got[0].muted
