"""mapping.py (recorded events → NativeEvents) and render.py (commands → FreeSWITCH strings)."""
import pytest

from fsbridge.conference import commands as c
from fsbridge.conference import native as n
from fsbridge.engines.base import EngineError
from fsbridge.engines.freeswitch import render
from fsbridge.engines.freeswitch.esl_parse import parse_message
from fsbridge.engines.freeswitch.mapping import EventMapper, TalkGate
from fakes import recorded_events


def mapped(rel, mapper=None):
    mapper = mapper or EventMapper()
    out = []
    for raw in recorded_events(rel):
        out += mapper.map(parse_message(raw).event)
    return out, mapper


ALICE, BOB, CAROL = ("a311c92d-5fd1-4d9f-8fb0-3f3bebce3823", "dfc8ffc6-e9bf-449d-97ff-b57fe5f60eaa",
                     "b31005e5-8b0e-4214-b7d8-d5213d2e4a53")


def test_recorded_add_member_events_become_native_events():
    events, mapper = mapped("conference_lifecycle/events_plain.esl.txt")
    adds = [e for e in events if e.action == n.ADD_MEMBER]
    assert [(e.room, e.member_id, e.unique_id, e.member_type, e.conference_size) for e in adds] == [
        ("life", 8, ALICE, "member", 1), ("life", 9, BOB, "member", 2), ("life", 10, CAROL, "moderator", 3)]
    assert adds[0].timestamp_us == 1795312372174627
    extra = dict(adds[1].extra)
    assert extra["Caller-Caller-ID-Name"] == "Bob" and extra["Speak"] == "false"  # +flags{mute}


def test_lifecycle_action_sequence():
    events, _ = mapped("conference_lifecycle/events_plain.esl.txt")
    seq = [e.action for e in events]
    # floor-change, lock/unlock, energy-level-member and play-file-member are not native actions
    assert "floor-change" not in seq and "lock" not in seq and "energy-level-member" not in seq
    assert seq[0] == n.CONFERENCE_CREATE and seq[-1] == n.CONFERENCE_DESTROY
    for action in (n.MUTE_MEMBER, n.UNMUTE_MEMBER, n.HOLD_MEMBER, n.UNHOLD_MEMBER, n.DEAF_MEMBER,
                   n.UNDEAF_MEMBER, n.KICK_MEMBER, n.HUP_MEMBER, n.DEL_MEMBER, n.PLAY_FILE, n.PLAY_FILE_DONE,
                   n.PLAY_FILE_MEMBER_DONE, n.START_RECORDING, n.PAUSE_RECORDING, n.RESUME_RECORDING,
                   n.STOP_RECORDING, n.CHANNEL_HANGUP_COMPLETE):
        assert action in seq, action
    mute = next(e for e in events if e.action == n.MUTE_MEMBER)
    assert (mute.member_id, mute.unique_id) == (8, ALICE)
    kick = next(e for e in events if e.action == n.KICK_MEMBER)
    assert kick.member_id == 9


def test_recording_and_play_fields():
    events, _ = mapped("conference_lifecycle/events_plain.esl.txt")
    stop = next(e for e in events if e.action == n.STOP_RECORDING)
    assert stop.path == "/var/lib/freeswitch/recordings/life-recording.wav"
    assert stop.duration_ms is not None and stop.file_size is not None and stop.unique_id is None
    failed = [e for e in events if e.action == n.PLAY_FILE and e.error]
    assert failed and failed[0].error == "File could not be played"  # finding 14
    member_done = [e for e in events if e.action == n.PLAY_FILE_MEMBER_DONE]
    assert member_done[0].file.endswith("conf-muted.wav") and member_done[0].member_id == 8


def test_hangup_complete_is_correlated_to_room_and_member():
    events, mapper = mapped("conference_lifecycle/events_plain.esl.txt")
    hups = [e for e in events if e.action == n.CHANNEL_HANGUP_COMPLETE and e.unique_id == BOB]
    assert hups and hups[0].room == "life" and hups[0].member_id == 9
    assert hups[0].hangup_cause == "NORMAL_CLEARING"
    assert mapper.members == {}  # every member left


def test_del_member_carries_hangup_cause_when_the_channel_was_hanging_up():
    events, _ = mapped("moderated/endconf.events_plain.esl.txt")
    dels = [e for e in events if e.action == n.DEL_MEMBER]
    assert len(dels) == 3 and all(e.hangup_cause for e in dels[1:])  # finding 24


def test_dtmf_events_and_dtmf_member():
    events, _ = mapped("talk/events_plain.esl.txt")
    dtmf = [e for e in events if e.action == n.DTMF]
    assert [e.digits for e in dtmf][:2] == ["*", "*"]
    assert dict(dtmf[0].extra)["DTMF-Source"] in ("RTP", "ENDPOINT")
    sip = [e for e in dtmf if e.member_id is not None]
    assert sip and sip[0].room == "talk"  # correlated through add-member's Unique-ID
    dm = [e for e in events if e.action == n.DTMF_MEMBER]
    assert dm and dm[0].digits == "5"


def test_talk_events_pass_through_the_shared_debouncer():
    raw_events, _ = mapped("talk/events_plain.esl.txt", EventMapper(talk=None))
    gated, _ = mapped("talk/events_plain.esl.txt", EventMapper(talk=TalkGate(stop_ms=0)))
    raw_talk = [(e.action, e.member_id) for e in raw_events if e.action in (n.START_TALKING, n.STOP_TALKING)]
    talk = [e for e in gated if e.action in (n.START_TALKING, n.STOP_TALKING)]
    assert raw_talk and talk
    # a muted talker emits no stop-talking and, after unmute, a stop without a start (finding 21): the
    # gate resets on mute (as the standalone engine does) and drops the orphan stop. So per member the
    # sequence alternates start/stop, where a mute also ends a talk spurt.
    per_member = {}
    for e in gated:
        if e.action in (n.START_TALKING, n.STOP_TALKING, n.MUTE_MEMBER):
            per_member.setdefault(e.member_id, []).append(e.action)
    for seq in per_member.values():
        talking = False
        for a in seq:
            if a == n.START_TALKING:
                assert not talking, seq
                talking = True
            elif a == n.STOP_TALKING:
                assert talking, seq
                talking = False
            else:
                talking = False
    assert (n.STOP_TALKING, 32) in raw_talk[:2]  # the orphan stop FreeSWITCH sent after the unmute
    assert len(talk) < len(raw_talk)
    assert all(e.duration_ms for e in talk if e.action == n.STOP_TALKING)


def test_talk_gate_holds_a_stop_for_the_hangover():
    gate = TalkGate(stop_ms=300)
    ev = n.NativeEvent(n.START_TALKING, "r", 1_000_000_000, "u", 1)
    assert [e.action for e in gate.feed(ev)] == [n.START_TALKING]
    assert gate.feed(n.NativeEvent(n.STOP_TALKING, "r", 1_001_000_000, "u", 1)) == []
    assert gate.pending()
    assert gate.poll(1_001_100_000) == []
    out = gate.poll(1_001_300_000)
    assert [(e.action, e.duration_ms) for e in out] == [(n.STOP_TALKING, 1300)]
    # a restart within the hangover merges
    gate.feed(n.NativeEvent(n.START_TALKING, "r", 1_003_000_000, "u", 1))
    gate.feed(n.NativeEvent(n.STOP_TALKING, "r", 1_003_500_000, "u", 1))
    assert gate.feed(n.NativeEvent(n.START_TALKING, "r", 1_003_600_000, "u", 1)) == []
    assert gate.poll(1_004_000_000) == []  # still talking: the stop was merged away
    gate.reset("r", 1)
    assert not gate.pending()


def test_talk_gate_polls_only_members_waiting_for_a_decision():
    polled = []

    def factory():
        from fsbridge.engines.talk import TalkDebouncer

        class Counting(TalkDebouncer):
            def poll(self, t_ms):
                polled.append(self)
                return super().poll(t_ms)
        return Counting(start_ms=0, stop_ms=300)

    gate = TalkGate(factory=factory)
    t = 1_000_000_000
    for m in range(1, 51):   # 50 members talking, none waiting for a decision
        gate.feed(n.NativeEvent(n.START_TALKING, "r", t, "u%d" % m, m))
    assert not gate.pending()
    polled.clear()
    assert gate.poll(t + 1_000_000) == [] and polled == []
    gate.feed(n.NativeEvent(n.STOP_TALKING, "r", t + 1_000_000, "u7", 7))   # one stop in its hangover
    assert gate.pending()
    polled.clear()
    assert gate.poll(t + 1_100_000) == [] and len(polled) == 1
    out = gate.poll(t + 1_300_000)
    assert [(e.action, e.member_id, e.duration_ms) for e in out] == [(n.STOP_TALKING, 7, 1300)]
    assert not gate.pending()
    polled.clear()
    assert gate.poll(t + 2_000_000) == [] and polled == []


# ----------------------------------------------------------------------------------------- render
def test_join_plan_exact():
    cmd = c.JoinMember(room="CF123", unique_id="u1", call_sid="CA1", muted=True, jitter_buffer_ms=40,
                       enter_beep=False, exit_beep=True, max_members=10, end_conference=True)
    assert render.join_plan(cmd).executes() == [
        ("multiset", "^^;jitterbuffer_msec=40;hangup_after_conference=false;"
                     "conference_enter_sound=silence_stream://1;conference_exit_sound=;conference_max_members=10;"
                     "fsbridge_call_sid=CA1"),
        ("jitterbuffer", "40"),
        ("conference", "CF123@fsbridge+flags{nomoh|mute|endconf}"),
    ]


def test_join_plan_refuses_a_value_that_would_split_the_multiset():
    with pytest.raises(EngineError):
        render.join_plan(c.JoinMember(room="CF1", unique_id="u", call_sid="CA1;conference_max_members=1"))


def test_join_plan_waiting_and_no_jitter_buffer():
    cmd = c.JoinMember(room="CF1", unique_id="u1", call_sid="CA1", waiting=True, jitter_buffer_ms=None)
    plan = render.join_plan(cmd, profile="other")
    assert plan.variables[0][1].startswith("^^;jitterbuffer_msec=;")
    assert plan.variables[1] == ("jitterbuffer", "stop")
    assert plan.conference_arg == "CF1@other+flags{nomoh|mute|deaf}"
    plain = render.join_plan(c.JoinMember(room="CF1", unique_id="u", call_sid="CA"))
    assert plain.conference_arg == "CF1@fsbridge+flags{nomoh}"


class View:
    def __init__(self, members):
        self._m = members

    def members(self, room):
        return list(self._m)

    def unique_id(self, room, member_id):
        return self._m.get(member_id)


V = View({8: "u8", 9: "u9", 10: "u10"})


@pytest.mark.parametrize("cmd,expected", [
    (c.MuteMember("R", 8), ["conference R mute 8"]),
    (c.UnmuteMember("R", 8), ["conference R unmute 8"]),
    (c.HoldMember("R", 8), ["conference R hold 8 local_stream://moh", "conference R deaf 8"]),
    (c.HoldMember("R", 8, media=()), ["conference R hold 8", "conference R deaf 8"]),
    (c.UnholdMember("R", 8), ["conference R unhold 8", "conference R undeaf 8"]),
    (c.KickMember("R", 9), ["conference R kick 9"]),
    (c.SetCoach("R", 8, 9), ["conference R relate 8 9 clear", "conference R relate 8 10 nospeak"]),
    (c.SetCoach("R", 8, None), ["conference R relate 8 9 clear", "conference R relate 8 10 clear"]),
    (c.SetExitBeep("R", 9, False), ["uuid_setvar u9 conference_exit_sound silence_stream://1"]),
    (c.SetExitBeep("R", 9, True), ["uuid_setvar u9 conference_exit_sound"]),
    (c.PlayMedia("R", ("/a.wav",)), ["conference R play /a.wav"]),
    (c.PlayMedia("R", ("/a.wav", "tone_stream://%(100,0,800)"), 9),
     ["conference R play file_string:///a.wav!tone_stream://%(100,0,800) 9"]),
    (c.StartRecording("R", "/r.wav"), ["conference R recording start /r.wav"]),
    (c.PauseRecording("R", "/r.wav"), ["conference R recording pause /r.wav"]),
    (c.ResumeRecording("R", "/r.wav"), ["conference R recording resume /r.wav"]),
    (c.StopRecording("R", "/r.wav"), ["conference R recording stop /r.wav"]),
    (c.EndConference("R"), ["conference R hup all"]),
])
def test_render_table(cmd, expected):
    assert render.render(cmd, V) == expected


@pytest.mark.parametrize("cmd", [
    c.PlayMedia("R", ("/a b.wav",)),
    c.PlayMedia("R", ()),
    c.MuteMember("R two", 1),
    c.SetExitBeep("R", 99, True),
    c.StartConference("R"),
])
def test_render_refuses(cmd):
    with pytest.raises(EngineError):
        render.render(cmd, V)


def test_originate_rendering():
    s = render.originate("user/1001", "&socket(127.0.0.1:8084 async full)",
                         [("origination_uuid", "u1"), ("fsbridge_call_sid", "CA1")])
    assert s == "originate {origination_uuid=u1,fsbridge_call_sid=CA1}user/1001 '&socket(127.0.0.1:8084 async full)'"
    with pytest.raises(EngineError):
        render.originate("user/1", "&park()", [("origination_caller_id_name", "A,B")])


def test_resync_snapshot_merges_member_events_mapped_meanwhile():
    mapper = EventMapper()
    mapper.members = {"gone": ("R", 1)}
    mapper.start_journal()
    events = [parse_message(r).event for r in recorded_events("conference_lifecycle/events_plain.esl.txt")]
    add_alice = next(e for e in events if e.get("Action") == "add-member")
    mapper.map(add_alice)  # handled after FreeSWITCH produced the snapshot below
    mapper.replace_members({"old": ("R", 2)})
    assert mapper.members == {"old": ("R", 2), ALICE: ("life", 8)}
    assert mapper.journal is None


def test_mapper_tracks_flags_from_events():
    _, mapper = mapped("conference_lifecycle/events_plain.esl.txt")
    assert mapper.flags == {}  # everybody left
    mapper = EventMapper()
    events = [parse_message(r).event for r in recorded_events("conference_lifecycle/events_plain.esl.txt")]
    for e in events:
        mapper.map(e)
        if e.get("Action") == "hold-member":
            break
    assert mapper.flags[BOB] == (True, False)     # joined +flags{mute}, unmuted, then muted quietly
    assert mapper.flags[CAROL] == (False, True)   # held
    assert mapper.flags[ALICE] == (False, False)
