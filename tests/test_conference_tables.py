"""The domain's lifecycles are data (fsbridge/conference/tables.py) and its events one frozen class per kind
(fsbridge/conference/events.py): checks of the tables themselves, as h11 checks its state table."""
import dataclasses
from datetime import datetime, timezone

import pytest

from fsbridge.conference import events as E
from fsbridge.wire import twilio as R
from fsbridge.conference import tables as T

PARTICIPANT_STATUSES = {R.P_QUEUED, R.P_CONNECTING, R.P_CONNECTED, R.P_COMPLETE, R.P_FAILED}
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_participant_table_only_moves_forward_between_known_statuses():
    order = [None, R.P_QUEUED, R.P_CONNECTING, R.P_CONNECTED, R.P_COMPLETE]
    for (state, _), (new, kinds) in T.PARTICIPANT.items():
        assert state in PARTICIPANT_STATUSES | {None} and new in PARTICIPANT_STATUSES
        assert new == R.P_FAILED or order.index(new) > order.index(state)
        assert all(issubclass(k, E.DomainEvent) for k in kinds)
    # terminal statuses take no input; a repeat is no transition
    assert not [k for k in T.PARTICIPANT if k[0] in (R.P_COMPLETE, R.P_FAILED)]
    assert T.step(T.PARTICIPANT, R.P_CONNECTED, T.ADDED) is None
    # a join that was never visible fails silently; a dial-out (visible since queued) reports its leave
    assert T.step(T.PARTICIPANT, R.P_CONNECTING, T.REFUSED) == (R.P_FAILED, ())
    assert T.step(T.PARTICIPANT, R.P_QUEUED, T.ADD_FAILED) == (R.P_FAILED, (E.ParticipantLeft,))


def test_conference_and_recording_tables():
    assert T.step(T.CONFERENCE, R.CONF_INIT, T.START) == (R.CONF_IN_PROGRESS, (E.ConferenceStarted,))
    assert T.step(T.CONFERENCE, R.CONF_IN_PROGRESS, T.START) is None          # exactly one start
    assert T.step(T.CONFERENCE, R.CONF_COMPLETED, T.END) is None              # exactly one end
    for state in T.ACTIVE_RECORDING:
        assert T.step(T.RECORDING, state, T.STOPPED)[0] == R.REC_COMPLETED
        assert T.step(T.RECORDING, state, T.STOPPED_EMPTY) == (R.REC_ABSENT, (E.RecordingAbsent,))
    for state in T.FINISHED_RECORDING:
        assert not [k for k in T.RECORDING if k[0] == state]


def test_one_frozen_class_per_event_word():
    assert len(E.EVENT_TYPES) == len({cls.NAME for cls in E.EVENT_TYPES.values()}) == 17
    e = E.make(E.PARTICIPANT_LEAVE, account_sid="AC1", conference_sid="CF1", friendly_name="r", sequence_number=3,
               timestamp=T0, reason_participant_left=R.LEFT_PARTICIPANT_HUNG_UP, announce_url="ignored")
    assert isinstance(e, E.ParticipantLeft) and e.name == "participant-leave" and e.announce_url is None
    assert not hasattr(e, "subscribed") and not hasattr(e, "status_sequence")   # delivery is not the event's
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.sequence_number = 4
    with pytest.raises(KeyError):
        E.make("participant-dance", account_sid="AC1", conference_sid="CF1", friendly_name="r",
               sequence_number=1, timestamp=T0)
