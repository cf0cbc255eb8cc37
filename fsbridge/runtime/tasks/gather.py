"""``<Gather>`` (TwiML/TeXML) and jambonz ``gather``: collect DTMF digits, then request the action.

Sources: Twilio TwiML ``<Gather>`` — nested Say/Play/Pause are played first and the caller's first digit
interrupts them; ``timeout`` seconds are waited after them and between digits; ``numDigits`` digits or the
``finishOnKey`` key (not part of ``Digits``) end the input; the ``action`` (default: the current document's URL)
is requested with ``Digits`` and its answer replaces the document; with no input the next verb runs, unless
``actionOnEmptyResult``. Telnyx TeXML ``<Gather>`` (the same). jambonz ``gather`` (verb specification 0.1.13,
jambonz-feature-server lib/tasks/gather.js): the actionHook is requested with ``reason`` ``dtmfDetected`` and
``digits``, or ``reason`` ``timeout``; ``dtmfBargein`` decides whether a digit stops the prompt.

Digits come from the call leg's DTMF callback on both engines (FreeSWITCH: DTMF events of the outbound socket,
a prompt interrupted with ``uuid_break``; standalone: the virtual call's DTMF schedule). The waits are
``silence_stream`` plays, so they run on engine time and end at once when the caller hangs up.
"""
from __future__ import annotations

from typing import Optional

from fsbridge.markup.model import Gather, Pause, Play, Say
from fsbridge.runtime import params
from fsbridge.runtime.fetch import FetchError
from fsbridge.runtime.media import silence
from fsbridge.runtime.tasks.base import STOP, Goto, Task
from fsbridge.wire import JAMBONZ

#: "unlimited" numDigits still ends here: a caller cannot grow the Digits parameter without bound
MAX_DIGITS = 128
#: loop="0" on a nested prompt: repeated until a digit, at most this many times (Twilio caps Say loops at 1000)
MAX_PROMPT_LOOPS = 1000


class DigitCollector:
    """The digits one Gather collects. ``num_digits``: finish after that many (None = unlimited, which still
    stops at :data:`MAX_DIGITS`); ``finish_on_key``: ``""`` or one key that finishes without being kept.
    ``presses`` counts every key taken (finish key included); ``finished`` is set by numDigits or the key."""

    def __init__(self, num_digits: Optional[int], finish_on_key: str):
        self.num_digits = num_digits
        self.finish_on_key = finish_on_key
        self.digits = ""
        self.presses = 0
        self.finished = False

    def feed(self, keys: str) -> bool:
        """Take the keys of one DTMF event (one or more of ``0-9 * # A-D``); True when any was taken."""
        taken = False
        for key in keys:
            if self.finished:
                break
            if key not in "0123456789*#ABCDabcd":
                continue
            taken = True
            self.presses += 1
            if self.finish_on_key and key == self.finish_on_key:
                self.finished = True
            else:
                self.digits += key.upper()
                if len(self.digits) >= (self.num_digits or MAX_DIGITS):
                    self.finished = True
        return taken


class GatherTask(Task):
    """Play the prompts, collect digits, then Goto the action's document, continue (None) or STOP."""

    name = "gather"

    def __init__(self, verb: Gather, session):
        super().__init__(verb, session)
        self.digits = DigitCollector(verb.num_digits, verb.finish_on_key)
        self._phase = "prompt"   # "prompt" | "wait" | "done": what a key press interrupts
        self._playing = False    # a play is under way (FreeSWITCH: a uuid_break with nothing playing would
        #                          stay set and cut the next playback short)

    def describe(self) -> str:
        """``gather (numDigits …, finishOnKey …, timeout …s)`` for the call log (never the digits)."""
        g = self.verb
        return (f"gather (numDigits {g.num_digits or 'any'}, finishOnKey {g.finish_on_key or 'none'}, "
                f"timeout {g.timeout:g}s)")

    def kill(self) -> None:
        """Interrupt: stop the prompt or the wait."""
        super().kill()
        if self._playing:
            self.session.leg.break_play()

    def _on_keys(self, keys: str) -> None:
        if not self.digits.feed(keys or "") or not self._playing:
            return
        if self._phase == "wait" or (self._phase == "prompt" and (self.verb.dtmf_bargein or self.digits.finished)):
            self.session.leg.break_play()

    def _play(self, media: str) -> None:
        self._playing = True
        try:
            self.session.leg.play((media,))
        finally:
            self._playing = False

    def _stop_prompts(self) -> bool:
        d = self.digits
        return self.killed or d.finished or (d.presses > 0 and self.verb.dtmf_bargein)

    def _prompts(self):
        """Play the nested verbs in order until a key interrupts them; STOP when the caller hung up."""
        s, leg = self.session, self.session.leg
        for verb in self.verb.prompts:
            if isinstance(verb, Say):
                media, loop = s.media.say(verb.text, verb.voice, verb.language), verb.loop
            elif isinstance(verb, Play):
                if not verb.url:   # <Play digits> sends DTMF: no prompt to hear
                    continue
                url = s.absolute(verb.url)
                try:
                    media, loop = s.media.play(url), verb.loop
                except FetchError as exc:
                    s.notify(exc.code, f"<Play> {url}: {exc.message}", end=False)
                    continue
            elif isinstance(verb, Pause):
                media, loop = silence(verb.length), 1
            else:  # pragma: no cover - the parsers nest nothing else
                continue
            for _ in range(loop if loop > 0 else MAX_PROMPT_LOOPS):
                if self._stop_prompts():
                    return None
                self._play(media)
                if leg.hung_up:
                    return STOP
        return None

    def _wait(self):
        """Wait ``timeout`` s for a key, then ``inter_digit_timeout`` (default ``timeout``) between keys. A wait
        that ends early without a key (a stray break) goes on for the rest of its time (engine clock)."""
        g, leg, bridge = self.verb, self.session.leg, self.session.bridge
        self._phase = "wait"
        deadline_us = None
        while not self.digits.finished and not self.killed:
            before = self.digits.presses
            if deadline_us is None:
                seconds = g.timeout if before == 0 else (g.inter_digit_timeout if g.inter_digit_timeout is not None
                                                         else g.timeout)
                deadline_us = bridge.now_us() + int(seconds * 1e6)
            left_s = (deadline_us - bridge.now_us()) / 1e6
            if left_s < 0.02:
                break   # timed out: no key during the whole wait
            self._play(silence(left_s))
            if leg.hung_up:
                return STOP
            if self.digits.presses != before:
                deadline_us = None   # a key: the inter-digit wait starts again
        return None

    def execute(self):
        """Prompts, digits, then the action request (Goto), the next verb (None) or STOP on hangup."""
        s, leg = self.session, self.session.leg
        leg.on_dtmf(self._on_keys)
        try:
            if self._prompts() is STOP or self._wait() is STOP:
                return STOP
        finally:
            self._phase = "done"
            leg.on_dtmf(None)
        if leg.hung_up:
            return STOP
        digits = self.digits.digits
        s.step(f"gather: {len(digits)} digit(s)")
        return self._action(digits)

    def _action(self, digits: str):
        s, g = self.session, self.verb
        if s.dialect == JAMBONZ:
            hook = g.action_hook
            if hook is None:
                return None
            url, method = s.absolute(hook.url), hook.method
        else:
            hook = None
            if not digits and not g.action_on_empty_result:
                return None   # Twilio: no input → the next verb
            url = s.absolute(g.action) if g.action else s.doc_url
            method = g.method
        body = params.gather_action_params(s.dialect, s.call_info(), digits)
        response = s.fetch_document(url, method, body, hook=hook)
        return Goto(response, url)
