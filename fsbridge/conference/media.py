"""A conference's recordings and announcements (mixed into :class:`~fsbridge.conference.room.Conference`).

Recording lifecycle: the table :data:`fsbridge.conference.tables.RECORDING` (processing → in-progress ⇄
paused → completed | absent); announcements: announcement-end on the engine's play-file-done /
play-file-member-done for the last media item, announcement-fail on a play-file carrying an error.
Sources: twilio-twiml-conference-noun.txt (record, recordingStatusCallback table, "Providing a
recordingStatusCallback will result in no conference-record-end callbacks"), twilio-conference-events-
announcement.txt, ../shared/fixtures/freeswitch/README.md §13–14.
"""
from __future__ import annotations

import os
from datetime import datetime
from typing import List, Optional

from fsbridge.conference import commands as C
from fsbridge.conference import events as E
from fsbridge.conference import ids
from fsbridge.conference import native as N
from fsbridge.wire import twilio as R
from fsbridge.conference import tables as T
from fsbridge.conference.errors import INVALID_PARAMETER, INVALID_STATE, DomainError, not_found
from fsbridge.conference.model import RecordingRecord
from fsbridge.conference.native import NativeEvent
from fsbridge.conference.outcome import EMPTY, Out, Outcome


class MediaRules:
    """Recording and announcement rules of one conference (state in the ConferenceRecord fields
    ``recordings`` and ``announcements``)."""

    # ------------------------------------------------------------------ recordings
    def active_recordings(self) -> List[RecordingRecord]:
        """Recordings asked for or running (not stopped)."""
        return [r for r in self.recordings.values() if r.status in T.ACTIVE_RECORDING]

    def new_recording(self, out: Out, trim_silence: bool) -> None:
        """A new recording (``<recordings_dir>/<RecordingSid>.wav``) and its StartRecording command."""
        sid = self.index.new_sid(ids.RECORDING)
        rec = RecordingRecord(sid=sid, path=os.path.join(self.index.recordings_dir, f"{sid}.wav"),
                              trim_silence=trim_silence)
        self.recordings[sid] = rec
        out.commands.append(C.StartRecording(room=self.sid, path=rec.path, trim_silence=rec.trim_silence))

    def stop_recordings(self, out: Out) -> None:
        """StopRecording for every active recording (the end of the conference)."""
        for rec in self.active_recordings():
            out.commands.append(C.StopRecording(room=self.sid, path=rec.path))

    def start_recording(self, trim_silence: Optional[bool]) -> Outcome:
        """See ConferenceState.start_recording. Raises DomainError 21220 when not in progress or already
        recording."""
        if self.status != R.CONF_IN_PROGRESS or self.ending:
            raise DomainError(INVALID_STATE, f"Conference {self.sid} is not in progress")
        if self.active_recordings():
            raise DomainError(INVALID_STATE, f"Conference {self.sid} is already being recorded")
        out = Out()
        self.new_recording(out, self.trim_silence if trim_silence is None else bool(trim_silence))
        return out.outcome()

    def update_recording(self, recording_sid: str, status: str) -> Outcome:
        """See ConferenceState.update_recording (table :data:`.tables.RECORDING_COMMANDS`)."""
        rec = self.recordings.get(recording_sid)
        if rec is None:
            raise not_found(f"Recording {recording_sid}")
        if status not in T.RECORDING_COMMANDS:
            raise DomainError(INVALID_PARAMETER, f"Recording status {status!r} must be paused, in-progress or stopped")
        if rec.status in T.FINISHED_RECORDING:
            if status == R.REC_STOPPED:
                return EMPTY
            raise DomainError(INVALID_STATE, f"Recording {recording_sid} is {rec.status}")
        if status == rec.status:
            return EMPTY
        return Outcome(commands=(T.RECORDING_COMMANDS[status](room=self.sid, path=rec.path),))

    def on_recording(self, out: Out, event: NativeEvent, ts: datetime) -> None:
        """start/pause/resume/stop-recording (table :data:`.tables.RECORDING`). conference-record-end (the
        deprecated eventCallbackUrl) only when the conference has one and no recordingStatusCallback."""
        rec = next((r for r in self.recordings.values() if r.path == event.path), None)
        if rec is None:
            return
        action = event.action
        if action == N.STOP_RECORDING:
            absent = not event.duration_ms or event.file_size == 0
            action = T.STOPPED_EMPTY if absent else T.STOPPED
        found = T.step(T.RECORDING, rec.status, action)
        if found is None:
            return
        if event.action == N.STOP_RECORDING:
            rec.duration_s = int(round((event.duration_ms or 0) / 1000))
            rec.file_size = event.file_size
        elif found[0] == R.REC_IN_PROGRESS and rec.status == R.REC_PROCESSING:
            rec.start_time = ts
        rec.status = found[0]
        cb = self.callbacks
        for kind in found[1]:
            if kind is E.ConferenceRecordEnded and (not cb.event_callback_url or cb.recording_status_callback):
                continue
            self.emit(out, kind, ts, recording=rec.view())

    # ------------------------------------------------------------------ announcements
    def announce(self, url: str, media: tuple, who: Optional[str]) -> Outcome:
        """See ConferenceState.announce → PlayMedia; remembers (member id, last item, url)."""
        if self.status == R.CONF_COMPLETED or self.ending:
            raise DomainError(INVALID_STATE, f"Conference {self.sid} is not in progress")
        if not media:
            raise DomainError(INVALID_PARAMETER, "AnnounceUrl gave nothing to play")
        member_id = self.joined_member(who).member_id if who is not None else None
        self.announcements.append((member_id, media[-1], url))
        return Outcome(commands=(C.PlayMedia(room=self.sid, media=tuple(media), member_id=member_id),))

    def on_play_done(self, out: Out, event: NativeEvent, member_id: Optional[int], ts: datetime) -> None:
        """play-file-done / play-file-member-done (``member_id``: the member it played to) of an
        announcement's last item → announcement-end; play-file with an error → announcement-fail. Internal
        sounds (beeps, music) match no announcement and are ignored."""
        failed = event.action == N.PLAY_FILE and event.error is not None
        if event.action == N.PLAY_FILE and not failed:
            return
        for i, (mid, file, url) in enumerate(self.announcements):
            if file == event.file and (failed or mid == member_id):
                del self.announcements[i]
                m = next((x for x in self.members.values() if mid is not None and x.member_id == mid
                          and x.joined), None)
                if failed:
                    self.emit(out, E.AnnouncementFailed, ts, m, announce_url=url,
                              reason_announcement_failed=event.error)
                else:
                    self.emit(out, E.AnnouncementEnded, ts, m, announce_url=url)
                return

    def forget_announcements(self, member_id: Optional[int]) -> None:
        """Drop the announcements to a member that left."""
        self.announcements = [a for a in self.announcements if a[0] is None or a[0] != member_id]


__all__ = ["MediaRules"]
