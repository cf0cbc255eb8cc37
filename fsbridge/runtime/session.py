"""CallSession: one call from its first webhook to its hang-up.

Fetch the number's voice URL with the dialect's request (Twilio voice parameters signed with
X-Twilio-Signature; Telnyx TeXML parameters; jambonz JSON call payload — :mod:`fsbridge.runtime.params`), parse
the answer (:func:`fsbridge.markup.parse`), run its verbs in order with one task per verb
(:mod:`fsbridge.runtime.tasks`), follow Redirect / Dial ``action`` documents, and hang up when the document
runs out (Twilio: "If the document ends, the call is hung up").

An app that answers an error status, times out or returns bad markup gets Twilio's behaviour: an error
notification (logged with its Twilio code: 11200 HTTP retrieval failure, 11205 connection failure, 12100
document parse failure, 11750 too large…), "An application error has occurred" is said, and the call ends
cleanly; nothing else in the bridge is affected.
"""
from __future__ import annotations

import logging
import time
from typing import Optional, Tuple
from urllib.parse import urljoin

from fsbridge.conference.commands import DEFAULT_HOLD_MUSIC
from fsbridge.markup import parse, verbs_allowed_in_wait
from fsbridge.markup.errors import MarkupError
from fsbridge.markup.model import Hook, Pause, Play, Redirect, Response, Say
from fsbridge.runtime import params
from fsbridge.wire import TWIML
from fsbridge.wire import twilio as tw
from fsbridge.runtime.fetch import FetchError, Fetched
from fsbridge.runtime.media import silence
from fsbridge.runtime.registry import CallRecord
from fsbridge.runtime.tasks.base import STOP, Goto
from fsbridge.runtime.tasks.registry import WAIT_VERBS, make_task

log = logging.getLogger("fsbridge.runtime.call")

SCHEMA_VALIDATION_WARNING = 12200
MAX_DOCUMENTS = 100          # Redirect/action chain bound per call
MAX_WAIT_REDIRECTS = 5       # Redirects followed inside one waitUrl document
APPLICATION_ERROR_TEXT = "We are sorry, an application error has occurred. Goodbye."
REENTRY_TIMEOUT_S = 10.0     # an adopted call that left its room alive must be back on the socket by then


class CallSession:
    """Drives one call. ``bridge``: the :class:`~fsbridge.runtime.bridge.Bridge`; ``record``: its
    :class:`CallRecord`; ``leg``: the engine's CallLeg; ``url``/``method``: the first document (the number's voice
    URL or the Calls.json ``Url``); ``dialect``: ``twiml``|``texml``|``jambonz``; ``first``: an already-built
    Response to run instead of fetching (REST add-participant)."""

    def __init__(self, bridge, record: CallRecord, leg, *, url: Optional[str], method: str = "POST",
                 dialect: str = TWIML, first: Optional[Response] = None):
        self.bridge = bridge
        self.record = record
        self.leg = leg
        self.url = url
        self.method = method
        self.dialect = dialect
        self.first = first
        self.doc_url = url or ""
        self.media = bridge.media
        self.answered = False
        self.current = None
        self.remaining: Tuple = ()   # the verbs after the one running (a Dial's continuation: adoption.py)
        self.detached = False   # given up at shutdown, the call left running in the engine (issue 15)

    # -- small services for the tasks ---------------------------------------------------------------------------
    def call_info(self, hung_up: bool = False) -> params.CallInfo:
        """The call as the app is told about it now (CallStatus ringing → in-progress → completed)."""
        status = (tw.CALL_COMPLETED if hung_up or self.leg.hung_up
                  else tw.CALL_IN_PROGRESS if self.answered else tw.CALL_RINGING)
        r = self.record
        return params.CallInfo(r.call_sid, r.account_sid, r.from_, r.to, r.direction, status)

    def absolute(self, url: str, base: Optional[str] = None) -> str:
        """``url`` resolved against ``base`` (default: the current document's URL), as Twilio resolves
        relative ``action``/``statusCallback``/``waitUrl`` values."""
        base = base if base is not None else self.doc_url
        return urljoin(base, url) if base else url

    def step(self, text: str) -> None:
        """Log one readable line for a call step (``call CA… +1555… step``)."""
        self.record.steps.append(text)
        log.info("call %s %s → %s: %s", self.record.call_sid, self.record.from_, self.record.to, text)

    def notify(self, code: int, message: str, end: bool = True) -> None:
        """A Twilio notification for this call, kept on the record: ``end`` = an error that ends the call (logged
        ``call CA… error 11200: …``), else a warning (``call CA… warning 12200: …``)."""
        self.record.errors.append((code, message))
        if end:
            log.error("call %s error %s: %s", self.record.call_sid, code, message)
        else:
            log.warning("call %s warning %s: %s", self.record.call_sid, code, message)

    def fetch_raw(self, url: str, method: str = "POST", body=None, hook: Optional[Hook] = None) -> Fetched:
        """Request ``url`` as a voice webhook of this call (``body`` default: the dialect's voice params)."""
        if body is None:
            body = params.voice_params(self.dialect, self.call_info())
        self.step(f"{method} {url}")
        return self.bridge.fetcher.fetch_markup(
            url, method, body, dialect=self.dialect, credentials=self.bridge.credentials(self.record.account_sid),
            username=hook.username if hook else None, password=hook.password if hook else None)

    def fetch_document(self, url: str, method: str = "POST", body=None, hook: Optional[Hook] = None) -> Response:
        """Fetch and parse a document (raises FetchError / MarkupError). An audio answer becomes ``<Play>``."""
        fetched = self.fetch_raw(url, method, body, hook)
        if fetched.is_audio:
            path = self.media.store_audio(fetched.url, fetched.body, fetched.content_type)
            return Response(verbs=(Play(url=path),), dialect=self.dialect)
        return self._parse(fetched)

    def _parse(self, fetched: Fetched, wait: bool = False) -> Response:
        """Parse a fetched document; ``wait``: keep only what a wait/hold/announce document may run
        (``fsbridge.markup.verbs_allowed_in_wait``). Every 12200 warning becomes a notification."""
        response = parse(fetched.body, self.dialect, fetched.content_type)
        if wait:
            response = verbs_allowed_in_wait(response)
        for w in response.warnings:
            self.notify(w.code, f"{w.message} ({w.path})" if w.path else w.message, end=False)
        return response

    def _media_of(self, response: Response, base: str, depth: int = 0, seen=None) -> Tuple[str, ...]:
        """Media references for a wait/hold/announce document: Play/Say/Pause/Redirect only (others: 12200).
        A Redirect is followed (at most :data:`MAX_WAIT_REDIRECTS`); one back to a document already read
        ends the list, since the engine loops wait media anyway (Twilio: the waitUrl runs in a loop)."""
        seen = set() if seen is None else seen
        seen.add(base)
        out = []
        for verb in response.verbs:
            if not isinstance(verb, WAIT_VERBS):
                self.notify(SCHEMA_VALIDATION_WARNING,
                            f"<{type(verb).__name__}> is not allowed in a wait document; ignored", end=False)
                continue
            if isinstance(verb, Play):
                ref = self.media.play(self.absolute(verb.url, base))
                out.extend([ref] * max(1, verb.loop))
            elif isinstance(verb, Say):
                ref = self.media.say(verb.text, verb.voice, verb.language)
                out.extend([ref] * max(1, verb.loop))
            elif isinstance(verb, Pause):
                out.append(silence(verb.length))
            elif isinstance(verb, Redirect):
                if depth >= MAX_WAIT_REDIRECTS:
                    self.notify(SCHEMA_VALIDATION_WARNING, "too many Redirects in a wait document", end=False)
                    break
                url = self.absolute(verb.url, base)
                if url in seen:
                    break
                fetched = self.fetch_raw(url, verb.method)
                if fetched.is_audio:
                    out.append(self.media.store_audio(fetched.url, fetched.body, fetched.content_type))
                else:
                    seen.update((url, fetched.url))
                    out.extend(self._media_of(self._parse(fetched, wait=True), fetched.url or url, depth + 1, seen))
                break
        return tuple(out)

    def media_from_url(self, url: str, method: str = "POST") -> Tuple[str, ...]:
        """Media for a waitUrl/holdUrl/announceUrl: an audio answer is played as is, a document's
        Play/Say/Pause/Redirect are resolved (raises FetchError / MarkupError)."""
        fetched = self.fetch_raw(url, method)
        if fetched.is_audio:
            return (self.media.store_audio(fetched.url, fetched.body, fetched.content_type),)
        return self._media_of(self._parse(fetched, wait=True), fetched.url or url, seen={url, fetched.url})

    def wait_media(self, conference) -> Tuple[str, ...]:
        """What the caller hears while the conference has not started (Twilio waitUrl: None → default hold
        music, "" → silence, URL → audio or a Play/Say/Pause/Redirect document; jambonz waitHook)."""
        if conference.wait_hook is not None:
            hook = conference.wait_hook
            fetched = self.fetch_raw(hook.url, hook.method, hook=hook)
            return self._media_of(self._parse(fetched, wait=True), hook.url)
        if conference.wait_url is None:
            return (DEFAULT_HOLD_MUSIC,)
        if conference.wait_url == "":
            return ()
        try:
            return self.media_from_url(conference.wait_url, conference.wait_method)
        except MarkupError as exc:
            raise FetchError(exc.code, exc.message, conference.wait_url) from None

    def run_hook_media(self, hook: Hook):
        """jambonz enterHook: fetch the hook's verbs and play their Play/Say/Pause to the caller."""
        try:
            fetched = self.fetch_raw(hook.url, hook.method, hook=hook)
            media = self._media_of(self._parse(fetched, wait=True), hook.url)
        except (FetchError, MarkupError) as exc:
            self.notify(exc.code, f"enterHook {hook.url}: {exc.message}", end=False)
            return None
        if media and not self.leg.play(media) and self.leg.hung_up:
            return STOP
        return None

    # -- the call -----------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Run the call to its end; never raises. Sets the record's status and ``done``."""
        self._guarded(self._run)

    def _run(self) -> None:
        rec = self.record
        if self.first is not None:
            response, url = self.first, self.url or ""
        else:
            rec.status = tw.CALL_RINGING
            self.step(f"fetching voice URL {self.url}")
            response, url = self.fetch_document(self.url, self.method), self.url
        self.leg.answer()
        self.answered = True
        rec.status = tw.CALL_IN_PROGRESS
        self._run_documents(response, url)

    def resume(self, data: dict) -> None:
        """Continue an adopted call (runtime/adoption.py): it is in the conference of ``data`` (a kept
        continuation) under the Dial ``data["verb"]``; stay there (timeLimit from the original join,
        hangupOnStar), then run the Dial action's answer or the verbs after the Dial once the call is back on
        the outbound socket. Never raises; sets the record's status and ``done`` like :meth:`run`."""
        self._guarded(lambda: self._resume(data))

    def _resume(self, data: dict) -> None:
        from fsbridge.runtime.adoption import rest_verbs, verb_from_json
        from fsbridge.runtime.tasks.conference import ConferenceTask
        self.answered = True
        self.doc_url = data.get("doc_url") or ""
        rest = rest_verbs(data)
        task = ConferenceTask(verb_from_json(data["verb"]), self)
        self.current = task
        self.step("adopted from a previous bridge: " + task.describe())
        adopted = self.leg
        try:
            result = task.resume(data["room"], float(data["started"]))
            self.current = None
            if result is STOP or not self._reattach():
                return
        finally:
            if self.leg is adopted and not self.detached:
                adopted.detach()   # the engine stops feeding it (the call ended or never came back)
        if isinstance(result, Goto):
            self._run_documents(result.response, result.url)
        else:
            self._run_documents(Response(verbs=rest, dialect=self.dialect), self.doc_url)

    def _reattach(self) -> bool:
        """An adopted call left its room alive: wait for it on the outbound socket (the dialplan's next
        ``socket`` action, docs/freeswitch.md observed-live §1b) and drive it there. False (the call is hung
        up) when it does not come back within :data:`REENTRY_TIMEOUT_S`."""
        wait = getattr(self.leg, "wait_reentry", None)
        if wait is None:
            return True
        live = None if self.leg.hung_up else wait(REENTRY_TIMEOUT_S)
        if live is None:
            if not self.leg.hung_up:
                log.warning("call %s: not back on the outbound socket %.0f s after leaving its conference "
                            "(dialplan without a further socket action?); hanging up", self.record.call_sid,
                            REENTRY_TIMEOUT_S)
            return False
        self.leg = self.record.leg = live
        self.step("back on the outbound socket")
        return True

    def _guarded(self, body) -> None:
        rec = self.record
        try:
            body()
        except (FetchError, MarkupError) as exc:
            self.notify(exc.code, exc.message)
            self._application_error()
        except Exception as exc:  # a bug must not take the bridge down: end this call only
            log.exception("call %s: internal error", rec.call_sid)
            self.notify(0, f"internal error: {exc}")
        finally:
            try:
                if not self.leg.hung_up and not self.detached:
                    self.leg.hangup("NORMAL_CLEARING")
            except Exception:  # pragma: no cover - engine already gone
                log.exception("call %s: hangup failed", rec.call_sid)
            rec.status = tw.CALL_COMPLETED
            rec.ended = time.time()
            self.step("ended")
            self.bridge.call_ended(rec)
            rec.done.set()

    def _application_error(self) -> None:
        """Twilio's answer to a broken app: say so, then hang up."""
        if self.leg.hung_up or (hasattr(self.leg, "wait_reentry") and not self._reattach()):
            return   # (an adopted call must be back on the outbound socket to hear anything)
        try:
            if not self.answered:
                self.leg.answer()
                self.answered = True
            self.leg.play((self.media.say(APPLICATION_ERROR_TEXT, "woman", "en-US"),))
        except Exception:
            log.exception("call %s: could not play the application-error message", self.record.call_sid)

    def _run_documents(self, response: Response, url: str) -> None:
        documents = 0
        while response is not None:
            documents += 1
            if documents > MAX_DOCUMENTS:
                self.notify(11215, f"more than {MAX_DOCUMENTS} documents in one call (Redirect loop?)")
                return
            self.doc_url = url
            nxt = None
            for index, verb in enumerate(response.verbs):
                self.remaining = response.verbs[index + 1:]
                if self.leg.hung_up:
                    return
                try:
                    task = make_task(verb, self)
                except KeyError:
                    self.notify(SCHEMA_VALIDATION_WARNING, f"verb {type(verb).__name__} is not supported",
                                end=False)
                    continue
                self.current = task
                self.step(task.describe())
                result = task.execute()
                self.current = None
                if result is STOP:
                    return
                if isinstance(result, Goto):
                    nxt = result
                    break
            if nxt is None:
                return
            response, url = nxt.response, nxt.url

    def detach(self) -> None:
        """Bridge shutdown with an engine whose calls outlive the bridge (FreeSWITCH): give the call up
        without hanging it up or taking it out of its conference. Marks the session (its end hangs nothing
        up); the caller then kills the session's greenlet and calls ``leg.detach()`` (``exit`` on its
        socket). The next bridge adopts the call (issue 15)."""
        self.detached = True
        self.step("detached (bridge shutdown): the call stays in its conference")

    def kill(self) -> None:
        """Stop the call now (bridge shutdown): interrupt the running task and hang up."""
        task = self.current
        if task is not None:
            task.kill()
        if not self.leg.hung_up:
            self.leg.hangup("SYSTEM_SHUTDOWN")
