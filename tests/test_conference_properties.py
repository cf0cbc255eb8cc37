"""Property-based test: random intents and engine events (repeats, losses, reconnects) never break the
conference invariants of issue #3: ≤ 1 start and ≤ 1 end per instance, end after start when there was a
start, SequenceNumbers 1, 2, 3 … per instance, no event for an unknown participant, member count =
joins − leaves, labels unique among the participants of an instance. REST dial-outs (queued participants,
answered → adopted by their join, or failed → participant-leave ``participant_add_failed``) are among the
steps: a failed dial-out's leave is for a participant that was queued and never joined, and does not
count as a leave.
"""
from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fsbridge.conference import events as ev
from fsbridge.conference import native as N
from fsbridge.conference.errors import DomainError
from fsbridge.conference.native import NativeEvent
from fsbridge.conference.testing import Harness
from fsbridge.markup.model import Conference

CALLS = [f"CA{i:032x}" for i in range(6)]
ROOMS = ["alpha", "beta"]
LABELS = [None, None, "host", "guest"]
PARTICIPANT_EVENTS = {ev.PARTICIPANT_JOIN, ev.PARTICIPANT_LEAVE, ev.PARTICIPANT_MUTE, ev.PARTICIPANT_UNMUTE,
                      ev.PARTICIPANT_HOLD, ev.PARTICIPANT_UNHOLD, ev.PARTICIPANT_MODIFY,
                      ev.PARTICIPANT_SPEECH_START, ev.PARTICIPANT_SPEECH_STOP}
RECORDING_EVENTS = {ev.RECORDING_IN_PROGRESS, ev.RECORDING_COMPLETED, ev.RECORDING_ABSENT,
                    ev.CONFERENCE_RECORD_END}


class ConferenceMachine(RuleBasedStateMachine):
    """Drives a Harness with random steps; every domain event is checked as it appears."""

    def __init__(self):
        super().__init__()
        self.h = Harness()
        self.deferred = []            # join Outcomes whose commands the engine has not run yet
        self.checked = 0
        self.seq = defaultdict(int)
        self.started = defaultdict(int)
        self.ended = defaultdict(int)
        self.present = defaultdict(set)      # conference → CallSids joined and not left
        self.joins = defaultdict(int)
        self.leaves = defaultdict(int)
        self.speaking = set()                # (conference, CallSid) between speech-start and speech-stop
        self.dialed = set()                  # CallSids ever given to dial_out

    # ------------------------------------------------------------------ steps
    def _try(self, fn, *a, **kw):
        try:
            return self.h.run(fn(*a, **kw))
        except DomainError as e:
            assert e.code in (13240, 16020, 16025, 20404, 21201, 21220) and e.status in (400, 404, 409)
            return []

    def _who(self, data, room):
        """Mostly a live participant of ``room`` (by CallSid or label), sometimes anybody."""
        live = [p for p in self.h.state.participants(self._sid(room))]
        choices = [p.call_sid for p in live] + [p.label for p in live if p.label] or CALLS
        return data.draw(st.one_of(st.sampled_from(choices), st.sampled_from(CALLS + ["host", "nobody"])))

    def _sid(self, room):
        info = self.h.state.conference_by_name(self.h.account_sid, room)
        return info.sid if info else "CF" + "e" * 32

    @initialize(n=st.integers(1, 4), start=st.booleans(), end=st.booleans(), record=st.booleans())
    def some_callers(self, n, start, end, record):
        """Begin with a populated room, so that most steps act on real participants."""
        for i in range(n):
            self.join(CALLS[i], "alpha", start or i == 1, end and i == 0, LABELS[i % len(LABELS)], False,
                      False, record)

    @rule(call=st.sampled_from(CALLS), room=st.sampled_from(ROOMS), start=st.booleans(), end=st.booleans(),
          label=st.sampled_from(LABELS), muted=st.booleans(), defer=st.booleans(), record=st.booleans())
    def join(self, call, room, start, end, label, muted, defer, record):
        conf = Conference(name=room, start_conference_on_enter=start, end_conference_on_exit=end,
                          participant_label=label, muted=muted, max_participants=4,
                          record="record-from-start" if record else "do-not-record",
                          status_callback="/cb", status_callback_event=("start", "end", "join", "leave"))
        try:
            out = self.h.state.join(account_sid=self.h.account_sid, call_sid=call, unique_id=self.h.uid(call),
                                    conference=conf, dialect="twiml", timestamp_us=self.h.engine.now_us)
        except DomainError as e:
            assert e.code in (16020, 16025, 21220)
            return
        if defer:
            self.deferred.append(out)
        else:
            self.h.run(out)

    @rule(call=st.sampled_from(CALLS), room=st.sampled_from(ROOMS), start=st.booleans(),
          label=st.sampled_from(LABELS))
    def dial_out(self, call, room, start, label):
        """REST create Participant: a queued participant."""
        conf = Conference(name=room, start_conference_on_enter=start, participant_label=label, max_participants=4,
                          status_callback="/cb", status_callback_event=("start", "end", "join", "leave"))
        try:
            out = self.h.state.dial_out(account_sid=self.h.account_sid, call_sid=call, conference=conf,
                                        dialect="twiml", timestamp_us=self.h.engine.now_us)
        except DomainError as e:
            assert e.code in (16020, 16025, 21220)
            return
        assert out.commands == () and out.events == ()
        view = self.h.state.participant_of_call(call)
        assert view.status == "queued" and view.member_id is None
        self.dialed.add(call)

    @rule(call=st.sampled_from(CALLS), status=st.sampled_from(["busy", "no-answer", "failed", "canceled"]))
    def dial_out_fails(self, call, status):
        view = self.h.state.participant_of_call(call)
        events = self.h.run(self.h.state.dial_out_failed(call, status, "CAUSE", timestamp_us=self.h.engine.now_us))
        if view is None or view.status != "queued":
            assert events == [], "only a queued participant can fail to be added"
        else:
            assert events and events[0].name == ev.PARTICIPANT_LEAVE and events[0].participant_call_status == status
            assert self.h.state.participant_of_call(call) is None

    @rule(data=st.data())
    def deliver_deferred(self, data):
        if self.deferred:
            self.h.run(self.deferred.pop(data.draw(st.integers(0, len(self.deferred) - 1))))

    @rule(data=st.data(), room=st.sampled_from(ROOMS))
    def hangup(self, data, room):
        self.h.hangup(self._who(data, room))

    @rule(data=st.data(), room=st.sampled_from(ROOMS), start=st.booleans())
    def talk(self, data, room, start):
        call = self._who(data, room)
        view = self.h.state.participant_of_call(call)
        action = N.START_TALKING if start else N.STOP_TALKING
        room = view.conference_sid if view else self._sid("alpha")
        self.h.feed([self.h.engine.native(action, room, unique_id=self.h.uid(call),
                                       member_id=view.member_id if view else 99)])

    @rule(data=st.data(), room=st.sampled_from(ROOMS), on=st.booleans(),
          what=st.sampled_from(["mute", "hold", "kick", "modify"]))
    def rest(self, data, room, on, what):
        s, sid, who = self.h.state, self._sid(room), self._who(data, room)
        if what == "mute":
            self._try(s.set_muted, self.h.account_sid, sid, who, on)
        elif what == "hold":
            self._try(s.set_hold, self.h.account_sid, sid, who, on)
        elif what == "kick":
            self._try(s.kick, self.h.account_sid, sid, who)
        else:
            self._try(s.modify, self.h.account_sid, sid, who, end_conference_on_exit=on, beep_on_exit=not on)

    @rule(room=st.sampled_from(ROOMS), really=st.integers(0, 3))
    def end(self, room, really):
        if really == 0:                      # rarely: it ends everything
            self._try(self.h.state.end, self.h.account_sid, self._sid(room))

    @rule(room=st.sampled_from(ROOMS))
    def announce(self, room):
        self._try(self.h.state.announce, self.h.account_sid, self._sid(room), "https://x/a.mp3", ("/a.wav",))

    @rule(room=st.sampled_from(ROOMS), status=st.sampled_from(["paused", "in-progress", "stopped"]))
    def recording(self, room, status):
        info = self.h.state.conference_by_name(self.h.account_sid, room)
        if info is not None and status == "in-progress":
            self._try(self.h.state.start_recording, self.h.account_sid, info.sid)
        for rec_sid in info.recording_sids if info else ():
            self._try(self.h.state.update_recording, self.h.account_sid, info.sid, rec_sid, status)

    @rule(data=st.data(), room=st.sampled_from(ROOMS), on=st.booleans(), to_member=st.booleans())
    def coach_or_announce_to(self, data, room, on, to_member):
        s, sid = self.h.state, self._sid(room)
        coach, who = self._who(data, room), self._who(data, room)
        if to_member:
            self._try(s.announce, self.h.account_sid, sid, "https://x/b.mp3", ("/b.wav",), who=who)
        else:
            self._try(s.modify, self.h.account_sid, sid, coach, coaching=on, call_sid_to_coach=who)

    @rule(data=st.data())
    def engine_repeats_an_event(self, data):
        if self.h.natives:
            self.h.feed([data.draw(st.sampled_from(self.h.natives))])

    @rule(room=st.sampled_from(ROOMS), call=st.sampled_from(CALLS),
          action=st.sampled_from([N.ADD_MEMBER, N.DEL_MEMBER, N.MUTE_MEMBER, N.HOLD_MEMBER, N.KICK_MEMBER,
                                  N.CONFERENCE_DESTROY, N.STOP_TALKING, N.JOIN_REFUSED]))
    def engine_spontaneous_event(self, room, call, action):
        """Events nobody asked for (moderator console, caller controls, a lost/duplicated channel)."""
        view = self.h.state.participant_of_call(call)
        self.h.feed([self.h.engine.native(action, view.conference_sid if view else self._sid(room),
                                       unique_id=self.h.uid(call), member_id=view.member_id if view else 77)])

    @rule(room=st.sampled_from(ROOMS), call=st.sampled_from(CALLS))
    def engine_loses_a_member(self, room, call):
        """The engine drops a member silently; a reconnect's resync must notice."""
        view = self.h.state.participant_of_call(call)
        if view is not None:
            self.h.engine.members.get(view.conference_sid, {}).pop(self.h.uid(call), None)

    @rule()
    def resync(self):
        self.h.run(self.h.state.resync(self.h.engine.snapshot()))

    # ------------------------------------------------------------------ invariants
    @invariant()
    def events_are_consistent(self):
        for e in self.h.events[self.checked:]:
            c = e.conference_sid
            assert e.sequence_number == self.seq[c] + 1, "SequenceNumbers strictly increasing from 1"
            self.seq[c] = e.sequence_number
            if e.name == ev.CONFERENCE_START:
                assert self.started[c] == 0 and self.ended[c] == 0
                self.started[c] += 1
            elif e.name == ev.CONFERENCE_END:
                assert self.ended[c] == 0
                assert not self.present[c], "everyone left before conference-end"
                self.ended[c] += 1
            elif e.name in PARTICIPANT_EVENTS:
                assert self.ended[c] == 0, "no participant event after conference-end"
                cs = e.participant.call_sid
                if e.name == ev.PARTICIPANT_LEAVE and e.reason_participant_left == "participant_add_failed":
                    assert cs in self.dialed and cs not in self.present[c], "add failed: queued, never joined"
                    assert e.participant.status == "failed"
                elif e.name == ev.PARTICIPANT_JOIN:
                    assert cs not in self.present[c]
                    self.present[c].add(cs)
                    self.joins[c] += 1
                else:
                    assert cs in self.present[c], f"{e.name} for unknown participant {cs}"
                    if e.name == ev.PARTICIPANT_SPEECH_START:
                        assert (c, cs) not in self.speaking and not e.participant.muted and not e.participant.hold
                        self.speaking.add((c, cs))
                    elif e.name == ev.PARTICIPANT_SPEECH_STOP:
                        assert (c, cs) in self.speaking, "speech-stop without speech-start"
                        self.speaking.discard((c, cs))
                    elif e.name == ev.PARTICIPANT_LEAVE:
                        assert (c, cs) not in self.speaking, "speech closed before the leave"
                    if e.name == ev.PARTICIPANT_LEAVE:
                        self.present[c].discard(cs)
                        self.leaves[c] += 1
            elif e.name not in RECORDING_EVENTS:
                assert e.participant is None or e.participant.call_sid in self.present[c]
            assert e.member_count == self.joins[c] - self.leaves[c]
        self.checked = len(self.h.events)

    @invariant()
    def state_matches_events(self):
        for info in self.h.state.conferences():
            c = info.sid
            assert info.member_count == self.joins[c] - self.leaves[c]
            assert (info.status == "completed") == (self.ended[c] == 1)
            assert (info.status == "init") == (self.started[c] == 0 and self.ended[c] == 0)
            labels = [p.label for p in self.h.state.participants(c) if p.label is not None]
            assert len(labels) == len(set(labels)), "labels unique"
            connected = {p.call_sid for p in self.h.state.participants(c) if p.status == "connected"}
            assert connected == self.present[c]

    @invariant()
    def status_counts_match_a_scan(self):
        """The O(1) counts (issue #16) equal what a scan of every participant record says."""
        for conf in self.h.state._confs.values():
            scanned = {}
            for m in conf.members.values():
                scanned[m.status] = scanned.get(m.status, 0) + 1
            assert {k: v for k, v in conf.status_counts.items() if v} == scanned
            assert conf.joined_count == len([m for m in conf.members.values() if m.joined])

    @invariant()
    def one_live_instance_per_name(self):
        for room in ROOMS:
            live = [i for i in self.h.state.conferences() if i.friendly_name == room and i.status != "completed"]
            # an ending instance may overlap with its successor; never two that are not ending
            assert len(live) <= 2


ConferenceMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50, deadline=None,
                                               suppress_health_check=[HealthCheck.too_slow])
TestConferenceInvariants = ConferenceMachine.TestCase
