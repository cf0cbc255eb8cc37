"""fsbridge.conference: Twilio conference semantics as a sans-IO domain shared by both engines.

Modules (import them directly; this package file imports nothing, so an engine importing
``fsbridge.conference.native`` does not load the domain):

* ``native``, ``commands``, ``events`` — the shared contracts (engine → domain, domain → engine, domain →
  store/callbacks: one frozen class per event kind).
* ``state`` — :class:`~fsbridge.conference.state.ConferenceState`, the index (with ``admission`` and
  ``routing``); ``room`` — :class:`~fsbridge.conference.room.Conference`, one per room, owning its rules
  (with ``media``: recordings, announcements); ``tables`` — the lifecycles as transition tables;
  ``resync`` — the one reconciliation with an engine snapshot; ``outcome`` — ``Outcome``.
* ``errors`` (DomainError + Twilio codes), ``ids`` (SIDs), ``reasons`` (Twilio status/reason words),
  ``rules`` (start rule, beep, jitter buffer, callback config), ``model`` (records and the ConferenceInfo
  view), ``testing`` (echo engine + harness for tests).

See docs/domain.md for the shape, the event order and the seed sentence each choice follows.
"""
