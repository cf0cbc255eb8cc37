"""``<Dial><Conference>`` (TwiML/TeXML) and jambonz ``conference``: put the call into a conference room.

Sources: Twilio TwiML Conference noun (seed twilio-twiml-conference-noun.txt): the ``Dial`` attributes
``action``/``method`` (requested when the caller leaves the conference; its answer continues the call; without
``action`` the call continues with the next verb), ``hangupOnStar`` (pressing ``*`` leaves the conference),
``timeLimit`` (removed after N seconds), ``waitUrl`` (audio, or a document of Play/Say/Pause/Redirect run in a
loop while waiting; "" = silence), participantLabel duplicate → 16025 and the call continues with its next verb.
jambonz conference verb (seed jambonz-conference-verb.txt): ``enterHook`` (played before joining), ``waitHook``
(like waitUrl), ``actionHook`` (requested when the caller leaves; its JSON verbs continue the call).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Optional

from fsbridge.conference.errors import CONFERENCE_FULL, DUPLICATE_LABEL, DomainError
from fsbridge.markup.model import Conference, Dial, Hook
from fsbridge.runtime import listen, params
from fsbridge.wire import twilio as tw
from fsbridge.runtime.fetch import FetchError
from fsbridge.runtime.tasks.base import STOP, Goto, Task

log = logging.getLogger("fsbridge.runtime.call")

LEFT = "left"
HANGUP = "hangup"
REFUSED = "refused"


class ConferenceTask(Task):
    """Join the conference, wait until the call leaves it, then request the action URL / actionHook.

    ``verb``: a :class:`~fsbridge.markup.model.Dial` (TwiML/TeXML) or a bare
    :class:`~fsbridge.markup.model.Conference` (jambonz).
    """

    name = "conference"

    def __init__(self, verb, session):
        super().__init__(verb, session)
        if isinstance(verb, Dial):
            self.dial: Optional[Dial] = verb
            self.conference: Conference = verb.conference
        else:
            self.dial = None
            self.conference = verb
        self._leaving = False

    def describe(self) -> str:
        """``conference '<name>'`` for the call log."""
        return f"conference {self.conference.name!r}"

    # -- helpers ------------------------------------------------------------------------------------------------
    def _resolved_conference(self) -> Conference:
        """The Conference with every relative URL made absolute against the current document's URL."""
        s = self.session
        c = self.conference
        changes = {}
        for name in ("status_callback", "recording_status_callback", "event_callback_url", "wait_url"):
            value = getattr(c, name)
            if value:
                changes[name] = s.absolute(value)
        for name in ("action_hook", "wait_hook", "enter_hook", "status_hook"):
            hook = getattr(c, name)
            if hook is not None and hook.url:
                changes[name] = replace(hook, url=s.absolute(hook.url))
        if c.status_hook is not None and not c.status_callback:
            changes["status_callback"] = s.absolute(c.status_hook.url)
            changes["status_callback_method"] = c.status_hook.method
        return replace(c, **changes) if changes else c

    def _action(self) -> Optional[Hook]:
        if self.dial is not None:
            if self.dial.action:
                return Hook(self.session.absolute(self.dial.action), self.dial.method or "POST")
            return None
        hook = self.conference.action_hook
        return replace(hook, url=self.session.absolute(hook.url)) if hook is not None else None

    def _leave(self, why: str) -> None:
        if not self._leaving:
            self._leaving = True
            self.session.step(f"leaves the conference ({why})")
            self.session.leg.leave()

    def kill(self) -> None:
        """Interrupt: take the call out of the conference (its join returns "left")."""
        super().kill()
        if not self.session.leg.hung_up:
            self._leave("interrupted")

    # -- the verb -----------------------------------------------------------------------------------------------
    def execute(self):
        """Join, stay until the call leaves, then run the action (Goto), continue (None) or STOP."""
        s = self.session
        conf = self._resolved_conference()
        cluster = getattr(s.bridge, "cluster", None)   # issue 18: the room may be owned by another node
        if cluster is not None and cluster.move_call(s, conf, self.dial if self.dial is not None else self.conference):
            return STOP
        if conf.enter_hook is not None:
            # jambonz enterHook: something to play or say just before the caller is put into the conference.
            result = s.run_hook_media(conf.enter_hook)
            if result is STOP:
                return STOP
        try:
            wait_media = s.wait_media(conf)
        except FetchError as exc:
            s.notify(exc.code, f"waitUrl {conf.wait_url or ''}: {exc.message}")
            return self._after(tw.DIAL_FAILED, None, hung_up=False)
        try:
            join = s.bridge.join_call(s.record, conf, s.dialect, wait_media)
        except DomainError as exc:
            code = exc.code
            if code in (DUPLICATE_LABEL, CONFERENCE_FULL):
                # Twilio: the call is not added and continues with its next verb.
                s.notify(code, exc.message, end=False)
                return None
            s.notify(code, exc.message, end=False)   # e.g. 13240 bad coach: fails to the action URL
            return self._after(tw.DIAL_FAILED, None, hung_up=False)
        if join is None:
            s.notify(CONFERENCE_FULL, f"conference {conf.name!r} refused the call", end=False)
            return None
        s.step(f"joins conference {conf.name!r} ({join.room})")
        started = s.bridge.now_us() / 1e6
        s.bridge.keep_continuation(s, self.verb, join.room, started)   # for a next bridge (adoption.py)
        return self._stay(conf, join.room, started, join)

    def resume(self, room: str, started: float):
        """An adopted call (runtime/adoption.py) is in ``room`` since ``started`` (wall-clock s): stay until it
        leaves — the timeLimit counted from ``started`` — then as :meth:`execute`."""
        return self._stay(self._resolved_conference(), room, started, None)

    def _stay(self, conf: Conference, room: str, started: float, join):
        """While the call is in ``room`` (``join``: the JoinMember to execute, None when adopted)."""
        s = self.session
        leg = s.leg
        timer = None
        on_dtmf = None
        if self.dial is not None and self.dial.hangup_on_star:
            on_dtmf = lambda digits: self._leave("hangupOnStar") if "*" in (digits or "") else None  # noqa: E731
        elif conf.distribute_dtmf:   # jambonz: this caller's digits reach the other members
            on_dtmf = lambda digits, sid=s.record.call_sid: s.bridge.distribute_dtmf(sid, digits or "")  # noqa
        # jambonz listen (not again for an adopted call: its mod_audio_fork stream lives in FreeSWITCH)
        listening = listen.start(s, conf.listen) if conf.listen is not None and join is not None else None
        if listening is not None:
            on_dtmf = listening.chain(on_dtmf)   # passDtmf: digits also go to the websocket
        if on_dtmf is not None:
            leg.on_dtmf(on_dtmf)
        if self.dial is not None and self.dial.time_limit and self.dial.time_limit > 0:
            left_s = max(0.0, float(self.dial.time_limit) - (s.bridge.now_us() / 1e6 - started))
            timer = s.bridge.call_later(left_s, lambda: self._leave("timeLimit"))
        try:
            why = s.bridge.run_join(leg, join) if join is not None else leg.wait_left()
        finally:
            if timer is not None:
                timer.cancel()
            if on_dtmf is not None:
                leg.on_dtmf(None)
            if listening is not None:
                listening.stop()
        s.bridge.drop_continuation(s.record.call_sid)
        # The engine's del-member must have reached the domain (duration, participant-leave first).
        s.bridge.wait_left(s.record.call_sid)
        if why == REFUSED:
            s.notify(CONFERENCE_FULL, f"conference {conf.name!r} is full (maxParticipants)", end=False)
            return None
        hung_up = why == HANGUP or leg.hung_up
        s.step(f"left conference {conf.name!r}: {'hung up' if hung_up else why}")
        return self._after(tw.DIAL_COMPLETED, room, hung_up=hung_up)

    def _after(self, dial_status: str, conference_sid: Optional[str], *, hung_up: bool):
        """Request the action URL / actionHook (Twilio: also after a hang-up, its answer ignored)."""
        s = self.session
        action = self._action()
        if action is None:
            return STOP if hung_up else None
        rec = s.record
        duration = 0
        if rec.joined_us is not None and rec.left_us is not None and dial_status == tw.DIAL_COMPLETED:
            duration = max(0, int(round((rec.left_us - rec.joined_us) / 1e6)))
        body = params.dial_action_params(s.dialect, s.call_info(hung_up=hung_up), dial_status=dial_status,
                                         duration_s=duration, conference_sid=conference_sid)
        if hung_up:
            try:
                s.fetch_raw(action.url, action.method, body, hook=action)
            except FetchError as exc:
                s.notify(exc.code, f"action {action.url}: {exc.message}", end=False)
            return STOP
        response = s.fetch_document(action.url, action.method, body, hook=action)
        return Goto(response, action.url)
