"""fsbridge.conference: Twilio conference semantics as a sans-IO state machine shared by both engines.

Modules (import them directly; this package file imports nothing, so an engine importing
``fsbridge.conference.native`` does not load the state machine):

* ``native``, ``commands``, ``events`` — the shared contracts (engine → domain, domain → engine, domain →
  store/callbacks).
* ``state`` — :class:`~fsbridge.conference.state.ConferenceState` and ``Outcome``.
* ``errors`` (DomainError + Twilio codes), ``ids`` (SIDs), ``reasons`` (Twilio status/reason words),
  ``rules`` (start rule, beep, jitter buffer, callback config), ``subscriptions`` (statusCallbackEvent
  words), ``model`` (records and the ConferenceInfo view), ``testing`` (echo engine + harness for tests).

See docs/domain.md for the event order and the seed sentence each choice follows.
"""
