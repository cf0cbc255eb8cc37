"""A fake FreeSWITCH for tests (package ``fakes``: esl, freeswitch, inbound, call, replay, sink): a real
TCP ESL server on port 0 (gevent), modelled on Otoru/Genesis
``tests/doubles.py``.

* :func:`read_transcript` — the strict reader of the fixture format (tests/fixtures/freeswitch/README.md).
* :class:`FakeFreeSwitch` — inbound ESL: ``auth``, ``event plain …`` (with FreeSWITCH's "every word after
  CUSTOM is a subclass" rule, finding 1), ``api``/``bgapi`` (canned replies; BACKGROUND_JOB results),
  ``exit``; a small mod_conference model answering ``conference <room> mute|unmute|deaf|undeaf|hold|unhold|
  kick|hup|play|relate|recording|json_list`` with the replies and events FreeSWITCH 1.10.12 produced in the
  fixtures (events are rendered from recorded templates); records every command; can replay recorded
  events and drop every connection.
* :class:`FakeCall` — FreeSWITCH connecting to an outbound-socket server: replays the recorded ``connect``
  reply of ``outbound/<s>.outbound_session.esl.txt`` and answers sendmsg executes with events rendered from
  that transcript's CHANNEL_EXECUTE(_COMPLETE) records; the ``conference`` app joins the model room.
"""
from fakes.call import FakeCall
from fakes.esl import (FIXTURES, api_response, disconnect_notice, fixture, plain_event, read_command,  # noqa: F401
                       read_transcript, recorded_events, reply)
from fakes.freeswitch import FakeFreeSwitch, Member
from fakes.replay import TranscriptReplayer
from fakes.sink import Sink

__all__ = ["FakeCall", "FakeFreeSwitch", "Member", "TranscriptReplayer", "Sink", "FIXTURES", "fixture",
           "plain_event", "read_transcript", "recorded_events", "reply", "api_response", "disconnect_notice",
           "read_command"]
