"""The vocabulary layer: every dialect's wire words, spelled once, and the serialisers that write them.

Pure data + stdlib functions (no Flask, lxml, SQLAlchemy, gevent): importable from every layer, the sans-IO
domain included (DESIGN.md "wire/"). One module per dialect:

* :mod:`fsbridge.wire.twilio` — Twilio REST 2010-04-01 parameter and resource field names, status words,
  statusCallback body fields and event words, ReasonConferenceEnded / ReasonParticipantLeft, RecordingStatus,
  TwiML enumerations, voice-webhook fields;
* :mod:`fsbridge.wire.texml` — Telnyx TeXML: the callback fields and event words that differ from Twilio's;
* :mod:`fsbridge.wire.jambonz` — jambonz statusEvents words (``end-talking``/``stop-talking`` aliasing), hook
  body keys;
* :mod:`fsbridge.wire.serialize` — lowerCamel/UpperCamel ↔ snake_case, wire booleans, the dates each dialect
  writes.

The dialect ids live here (:data:`TWIML`, :data:`TEXML`, :data:`JAMBONZ`); ``fsbridge.markup.model`` re-exports
them. FreeSWITCH header names are not a tenant-facing dialect: they stay in ``engines/freeswitch/wire.py``.
"""
from __future__ import annotations

#: Dialect ids: which markup a number serves and which callback form its conferences get.
TWIML = "twiml"
TEXML = "texml"
JAMBONZ = "jambonz"
DIALECTS = (TWIML, TEXML, JAMBONZ)
