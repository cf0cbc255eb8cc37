"""The lifecycles of the domain as transition tables: data ``(state, input) → (new state, emitted event
kinds)``, as python-hyper h11 ``_state.py`` and h2 ``stream.py`` keep theirs. A pair missing from a table
is not a transition: the input is ignored (an engine may repeat itself; "exactly one start and one end per
conference instance, whatever the engine repeats").

The handlers in :mod:`.room` and :mod:`.media` look the step up with :func:`step`, set the new state and
emit the listed kinds in order; guards that depend on more than the state (e.g. "only while the conference
is in progress") stay next to the handler and are documented there. Sources: docs/domain.md (event order
table), twilio-twiml-conference-noun.txt (statusCallback / recordingStatusCallback tables).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from fsbridge.conference import commands as C
from fsbridge.conference import events as E
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R

Step = Tuple[str, tuple]

# ---------------------------------------------------------------- participant lifecycle
# Inputs (the domain's own names for what happens to a participant):
DIAL_OUT = "dial-out"          # REST create Participant: exists at once, queued
JOIN = "join"                  # the call asked to join (JoinMember sent); adopts a queued dial-out
ADDED = "added"                # the engine's add-member
LEFT = "left"                  # the engine removed the member (del-member, hangup, room destroyed)
REFUSED = "refused"            # a join that never reached the room and was never visible (no event)
ADD_FAILED = "add-failed"      # a REST dial-out that never joined (visible since queued)

PARTICIPANT: Dict[Tuple[Optional[str], str], Step] = {
    (None, DIAL_OUT): (R.P_QUEUED, ()),
    (None, JOIN): (R.P_CONNECTING, ()),
    (R.P_QUEUED, JOIN): (R.P_CONNECTING, ()),
    (R.P_CONNECTING, ADDED): (R.P_CONNECTED, (E.ParticipantJoined,)),
    (R.P_CONNECTED, LEFT): (R.P_COMPLETE, (E.ParticipantLeft,)),
    (R.P_CONNECTING, REFUSED): (R.P_FAILED, ()),
    (R.P_QUEUED, ADD_FAILED): (R.P_FAILED, (E.ParticipantLeft,)),
    (R.P_CONNECTING, ADD_FAILED): (R.P_FAILED, (E.ParticipantLeft,)),
}

#: engine flag event → (participant attribute, new value, event kind). A repeat (already so) is ignored;
#: muting or holding a talker first stops its speech (FreeSWITCH sends no stop-talking then).
FLAGS: Dict[str, Tuple[str, bool, type]] = {
    N.MUTE_MEMBER: ("muted", True, E.ParticipantMuted),
    N.UNMUTE_MEMBER: ("muted", False, E.ParticipantUnmuted),
    N.HOLD_MEMBER: ("hold", True, E.ParticipantHeld),
    N.UNHOLD_MEMBER: ("hold", False, E.ParticipantUnheld),
}

#: speaking (bool) × talk event → (speaking, event kinds). Guard (handler): start only while the conference
#: is in progress and not ending, and the member is neither muted nor held.
SPEECH: Dict[Tuple[bool, str], Tuple[bool, tuple]] = {
    (False, N.START_TALKING): (True, (E.SpeechStarted,)),
    (True, N.STOP_TALKING): (False, (E.SpeechStopped,)),
}

# ---------------------------------------------------------------- conference lifecycle
START = "start"                # the start rule held
END = "end"                    # the last leave, or the decided end once nobody is left

CONFERENCE: Dict[Tuple[str, str], Step] = {
    (R.CONF_INIT, START): (R.CONF_IN_PROGRESS, (E.ConferenceStarted,)),
    (R.CONF_INIT, END): (R.CONF_COMPLETED, (E.ConferenceEnded,)),
    (R.CONF_IN_PROGRESS, END): (R.CONF_COMPLETED, (E.ConferenceEnded,)),
}

# ---------------------------------------------------------------- recording lifecycle
STOPPED = "stopped"            # stop-recording with audio
STOPPED_EMPTY = "stopped-empty"  # stop-recording with 0 ms or 0 bytes
ACTIVE_RECORDING = (R.REC_PROCESSING, R.REC_IN_PROGRESS, R.REC_PAUSED)

RECORDING: Dict[Tuple[str, str], Step] = {
    (R.REC_PROCESSING, N.START_RECORDING): (R.REC_IN_PROGRESS, (E.RecordingStarted,)),
    (R.REC_IN_PROGRESS, N.PAUSE_RECORDING): (R.REC_PAUSED, ()),
    (R.REC_PAUSED, N.RESUME_RECORDING): (R.REC_IN_PROGRESS, ()),
    **{(s, STOPPED): (R.REC_COMPLETED, (E.RecordingCompleted, E.ConferenceRecordEnded))
       for s in ACTIVE_RECORDING},
    **{(s, STOPPED_EMPTY): (R.REC_ABSENT, (E.RecordingAbsent,)) for s in ACTIVE_RECORDING},
}

#: REST recording update Status → the engine command asking for it (the state follows the engine's event)
RECORDING_COMMANDS = {R.REC_PAUSED: C.PauseRecording, R.REC_IN_PROGRESS: C.ResumeRecording,
                      R.REC_STOPPED: C.StopRecording}
FINISHED_RECORDING = (R.REC_STOPPED, R.REC_COMPLETED, R.REC_ABSENT)


def step(table: dict, state, event: str):
    """The ``(new state, event kinds)`` for ``(state, event)`` in ``table``, or None when the table has no
    such transition (the input is to be ignored)."""
    return table.get((state, event))


__all__ = ["PARTICIPANT", "FLAGS", "SPEECH", "CONFERENCE", "RECORDING", "RECORDING_COMMANDS", "step"]
