"""Twilio Conference Recording routes (2010-04-01): list, fetch, update (pause / resume / stop), delete, audio.

* ``GET Recordings.json`` — DateCreated / DateCreated< / DateCreated> filters; paging; newest first.
* ``GET Recordings/{Sid}.json``.
* ``POST Recordings/{Sid}.json`` — ``Status`` (required) = ``paused`` | ``in-progress`` | ``stopped``
  (the spec's enum lists the read-only statuses too; those → 400), ``PauseBehavior`` = ``skip`` |
  ``silence`` (default silence). Only a recording that is ``in-progress`` or ``paused`` can change
  (409 / 21220 otherwise). Returns the recording re-read from the store (a confirmed pause / resume is
  written there by this route: the domain reports no event for it; a stop arrives as recording-completed).
* ``DELETE Recordings/{Sid}.json`` — a finished recording (completed / stopped / absent / processing) is
  removed with its audio file; 204. Deleting a running one → 409 (stop it first).
* ``GET Recordings/{Sid}.wav`` — the audio (audio/x-wav), Twilio's "append .wav to the uri"; 404 until the
  file exists.
"""
from __future__ import annotations

import os

from flask import Blueprint, g, jsonify, request, send_file

from fsbridge.api import paging, params, paths, render
from fsbridge.api.context import conference_or_404, ctx, live_control, recording_or_404
from fsbridge.api.errors import conflict, invalid, not_found
from fsbridge.wire.twilio import (DATE_CREATED, PAUSE_BEHAVIOR, PAUSE_BEHAVIORS, RECORDING_RUNNING,
                                  RECORDING_SETTABLE_STATUSES, STATUS)

bp = Blueprint("twilio_recordings", __name__)


def list_page(account_sid: str, conference_sid: str, args, path: str, render_one) -> dict:
    """Shared by the Twilio and Telnyx list routes: DateCreated filters + paging → page envelope."""
    created = params.date_filter(args, DATE_CREATED)
    page = paging.parse(args)
    conference_or_404(account_sid, conference_sid)
    result = ctx().store.list_recordings(account_sid, conference_sid, created=created, page=page.request)
    kept = {k: v for k, v in args.items(multi=True) if k.startswith(DATE_CREATED)}
    return paging.envelope(path, kept, page, result, "recordings", render_one)


def audio(account_sid: str, conference_sid: str, sid: str):
    """Shared by the Twilio and Telnyx audio routes: the recording's WAV file (404 until it exists)."""
    row = recording_or_404(account_sid, conference_sid, sid)
    if not row.path or not os.path.isfile(row.path):
        raise not_found()
    return send_file(row.path, mimetype="audio/x-wav", conditional=True)


@bp.get(paths.rule(paths.TW_RECORDINGS))
def list_recordings(AccountSid: str, ConferenceSid: str):
    """Twilio ListConferenceRecording → ``{"recordings": [...], <paging fields>}``."""
    return jsonify(list_page(g.account_sid, ConferenceSid, request.args, paths.build(
        paths.TW_RECORDINGS, AccountSid=AccountSid, ConferenceSid=ConferenceSid), render.recording))


@bp.get(paths.rule(paths.TW_RECORDING))
def fetch_recording(AccountSid: str, ConferenceSid: str, Sid: str):
    """Twilio FetchConferenceRecording."""
    return jsonify(render.recording(recording_or_404(g.account_sid, ConferenceSid, Sid)))


@bp.post(paths.rule(paths.TW_RECORDING))
def update_recording(AccountSid: str, ConferenceSid: str, Sid: str):
    """Twilio UpdateConferenceRecording: Status=paused|in-progress|stopped, PauseBehavior."""
    form = request.form
    row = recording_or_404(g.account_sid, ConferenceSid, Sid)
    status = params.choice(form, STATUS, RECORDING_SETTABLE_STATUSES)
    if status is None:
        raise invalid(f"Required parameter {STATUS} is missing")
    behavior = params.choice(form, PAUSE_BEHAVIOR, PAUSE_BEHAVIORS) or "silence"
    if row.status not in RECORDING_RUNNING:
        raise conflict(f"Recording {Sid} is {row.status}; it can no longer be changed")
    with live_control() as control:
        control.update_recording(g.account_sid, ConferenceSid, Sid, status, behavior)
    if status in RECORDING_RUNNING:  # confirmed by the engine, but no DomainEvent reports a pause / resume
        ctx().store.set_recording_status(g.account_sid, ConferenceSid, Sid, status)
    return jsonify(render.recording(recording_or_404(g.account_sid, ConferenceSid, Sid)))


@bp.delete(paths.rule(paths.TW_RECORDING))
def delete_recording(AccountSid: str, ConferenceSid: str, Sid: str):
    """Twilio DeleteConferenceRecording → 204; the audio file goes too."""
    row = recording_or_404(g.account_sid, ConferenceSid, Sid)
    if row.status in RECORDING_RUNNING:
        raise conflict(f"Recording {Sid} is {row.status}; stop it before deleting it")
    removed = ctx().store.delete_recording(g.account_sid, ConferenceSid, Sid)
    if removed is None:
        raise not_found()
    if removed.path:
        try:
            os.unlink(removed.path)
        except FileNotFoundError:
            pass
    return "", 204


@bp.get(paths.rule(paths.TW_RECORDING_WAV))
def recording_audio(AccountSid: str, ConferenceSid: str, Sid: str):
    """The recording's WAV file."""
    return audio(g.account_sid, ConferenceSid, Sid)
