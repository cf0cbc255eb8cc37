"""Random command sequences against the standalone engine (hypothesis state machine).

Invariants after every step: the engine's members equal the model's; every member's events start with
add-member and end with del-member (nothing after); a room is created before its first member and destroyed
after its last; no start-talking while muted or held; member ids strictly increase; each call heard exactly
one frame per tick since it answered; every join() returned the right reason.
"""
from pathlib import Path

import gevent
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fsbridge.conference import native as N
from fsbridge.conference.commands import (EndConference, HoldMember, JoinMember, KickMember, MuteMember,
                                          PlayMedia, SetCoach, StartConference, UnholdMember, UnmuteMember)
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.engine import StandaloneEngine

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"
SOURCES = [str(AUDIO / f"speech-{x}.wav") for x in "abc"] + ["silence_stream://-1"]
ROOMS = ["CFa", "CFb"]
F = 160


class EngineMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.eng = StandaloneEngine(rate=8000, clock=Clock(speed=None))
        self.events = []
        self.eng.set_event_sink(self.events.append)
        self.n = 0
        self.calls = {}       # uid -> leg
        self.joins = {}       # uid -> greenlet
        self.model = {}       # uid -> (room, flags dict)
        self.expected = {}    # uid -> expected join() result once finished

    # ---------------------------------------------------------------- rules
    @rule(src=st.sampled_from(SOURCES), room=st.sampled_from(ROOMS), waiting=st.booleans(),
          muted=st.booleans(), beep=st.booleans())
    def join(self, src, room, waiting, muted, beep):
        self.n += 1
        uid = f"CA{self.n}"
        leg = self.eng.create_call(uid, src, loop=True)
        self.calls[uid] = leg
        cmd = JoinMember(room=room, unique_id=uid, call_sid=uid, waiting=waiting, muted=muted,
                         enter_beep=beep, exit_beep=beep, max_members=3,
                         wait_media=("tone_stream://%(100,100,400)",))
        full = sum(1 for r, _ in self.model.values() if r == room) >= 3
        self.joins[uid] = gevent.spawn(leg.join, cmd)
        gevent.sleep(0)
        if full:
            self.expected[uid] = "refused"
        else:
            self.model[uid] = (room, {"muted": muted, "hold": False})

    def _pick(self, data):
        return data.draw(st.sampled_from(sorted(self.model)))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), what=st.sampled_from(["mute", "unmute", "hold", "unhold"]))
    def flag(self, data, what):
        uid = self._pick(data)
        room, flags = self.model[uid]
        mid = self.calls[uid].member_id
        cmd = {"mute": MuteMember, "unmute": UnmuteMember, "hold": HoldMember, "unhold": UnholdMember}[what]
        self.eng.execute(cmd(room=room, member_id=mid))
        key = "muted" if "mute" in what else "hold"
        flags[key] = not what.startswith("un")

    @precondition(lambda self: self.model)
    @rule(data=st.data(), how=st.sampled_from(["kick", "leave", "hangup"]))
    def remove(self, data, how):
        uid = self._pick(data)
        room, _ = self.model.pop(uid)
        leg = self.calls[uid]
        if how == "kick":
            self.eng.execute(KickMember(room=room, member_id=leg.member_id))
        elif how == "leave":
            leg.leave()
        else:
            leg.hangup()
        self.expected[uid] = "hangup" if how == "hangup" else "left"
        gevent.sleep(0)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def coach(self, data):
        a, b = self._pick(data), self._pick(data)
        if self.model[a][0] == self.model[b][0] and a != b:
            room = self.model[a][0]
            self.eng.execute(SetCoach(room=room, coach_member_id=self.calls[a].member_id,
                                      coached_member_id=self.calls[b].member_id))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def room_ops(self, data):
        uid = self._pick(data)
        room = self.model[uid][0]
        op = data.draw(st.sampled_from(["start", "play", "end"]))
        if op == "start":
            self.eng.execute(StartConference(room=room))
        elif op == "play":
            self.eng.execute(PlayMedia(room=room, media=("tone_stream://%(100,0,700)",)))
        else:
            self.eng.execute(EndConference(room=room))
            for u in [u for u, (r, _) in self.model.items() if r == room]:
                del self.model[u]
                self.expected[u] = "left"
            gevent.sleep(0)

    @rule(seconds=st.sampled_from([0.02, 0.1, 0.5, 1.0]))
    def run(self, seconds):
        self.eng.run_for(seconds)

    # ---------------------------------------------------------------- invariants
    @invariant()
    def members_match_model(self):
        snap = {s.unique_id: s for s in self.eng.snapshot()}
        assert set(snap) == set(self.model)
        for uid, (room, flags) in self.model.items():
            assert snap[uid].room == room and snap[uid].muted == flags["muted"] and snap[uid].hold == flags["hold"]

    @invariant()
    def joins_returned(self):
        for uid, reason in self.expected.items():
            g = self.joins[uid]
            assert g.ready() and g.value == reason, (uid, g.value, reason)

    @invariant()
    def event_grammar(self):
        self.eng.flush()
        seen_add, seen_del, live_rooms, last_mid = {}, set(), set(), 0
        muted, held = set(), set()
        for ev in self.events:
            a, mid = ev.action, ev.member_id
            if a == N.CONFERENCE_CREATE:
                assert ev.room not in live_rooms
                live_rooms.add(ev.room)
            elif a == N.CONFERENCE_DESTROY:
                assert ev.room in live_rooms
                assert not [m for m, r in seen_add.items() if r == ev.room and m not in seen_del]
                live_rooms.discard(ev.room)
            elif a == N.ADD_MEMBER:
                assert ev.room in live_rooms and mid > last_mid
                last_mid = mid
                seen_add[mid] = ev.room
                if dict(ev.extra).get("Speak") == "false":
                    muted.add(mid)
            elif mid is not None and a != N.JOIN_REFUSED:
                assert mid in seen_add and mid not in seen_del, (a, mid)
                if a == N.DEL_MEMBER:
                    seen_del.add(mid)
                elif a == N.MUTE_MEMBER:
                    muted.add(mid)
                elif a == N.UNMUTE_MEMBER:
                    muted.discard(mid)
                elif a == N.HOLD_MEMBER:
                    held.add(mid)
                elif a == N.UNHOLD_MEMBER:
                    held.discard(mid)
                elif a == N.START_TALKING:
                    assert mid not in muted and mid not in held
        assert live_rooms == set(self.eng.rooms())

    @invariant()
    def heard_one_frame_per_tick(self):
        for leg in self.calls.values():
            if leg.start_tick is not None and not leg.hung_up:
                assert leg.heard_audio().size == (self.eng.clock.ticks - leg.start_tick) * F


EngineMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestEngineStateful = EngineMachine.TestCase
