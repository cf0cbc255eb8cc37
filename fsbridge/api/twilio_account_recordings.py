"""Twilio recordings as apps reach them from a callback's ``RecordingUrl`` or the account (2010-04-01).

* ``GET …/Conferences/{CF}/Recordings/{RE}`` (the bare ``RecordingUrl`` as sent) — the audio, WAV, as Twilio
  serves a bare recording URL; ``….wav`` (in twilio_recordings) and ``….mp3`` (MP3 encoded on request with
  libsndfile) likewise.
* ``GET /Accounts/{AC}/Recordings.json`` — every recording of the account's conferences (Twilio ListRecording:
  DateCreated filters, paging, newest first); ``GET /Accounts/{AC}/Recordings/{RE}.json`` (FetchRecording);
  the audio at ``/Recordings/{RE}`` (WAV), ``.wav`` and ``.mp3``.

Fields are the Twilio Recording resource's (the SDK's RecordingInstance: the conference recording's fields plus
``subresource_uris`` and ``media_url``). Auth as every Twilio route (Basic, before_request of the app).
"""
from __future__ import annotations

import io
import os

from flask import Blueprint, g, jsonify, request, send_file

from fsbridge.api import paging, params, paths, render
from fsbridge.api.context import ctx, recording_or_404
from fsbridge.api.errors import not_found
from fsbridge.api.twilio_recordings import DATE_CREATED, audio
from fsbridge.store.rows import RecordingRow

bp = Blueprint("twilio_account_recordings", __name__)


def account_recording(row: RecordingRow) -> dict:
    """The Twilio (account-level) Recording resource JSON of ``row``."""
    body = render.recording(row)
    body["uri"] = paths.build(paths.TW_ACCOUNT_RECORDING, AccountSid=row.account_sid, Sid=row.sid)
    body["subresource_uris"] = {}
    body["media_url"] = None
    return body


def _mp3(row: RecordingRow):
    """The recording encoded as MP3 (audio/mpeg); 404 until its file exists."""
    import soundfile as sf
    if not row.path or not os.path.isfile(row.path):
        raise not_found()
    data, rate = sf.read(row.path, dtype="int16")
    out = io.BytesIO()
    sf.write(out, data, rate, format="MP3")
    out.seek(0)
    return send_file(out, mimetype="audio/mpeg", download_name=f"{row.sid}.mp3")


def _wav(row: RecordingRow):
    if not row.path or not os.path.isfile(row.path):
        raise not_found()
    return send_file(row.path, mimetype="audio/x-wav", conditional=True)


def _account_row(sid: str) -> RecordingRow:
    row = ctx().store.account_recording(g.account_sid, sid)
    if row is None:
        raise not_found()
    return row


@bp.get(paths.rule(paths.TW_RECORDING_MEDIA))
def conference_recording_media(AccountSid: str, ConferenceSid: str, Sid: str):
    """The bare RecordingUrl: the WAV audio."""
    return audio(g.account_sid, ConferenceSid, Sid)


@bp.get(paths.rule(paths.TW_RECORDING_MP3))
def conference_recording_mp3(AccountSid: str, ConferenceSid: str, Sid: str):
    """The recording as MP3."""
    return _mp3(recording_or_404(g.account_sid, ConferenceSid, Sid))


@bp.get(paths.rule(paths.TW_ACCOUNT_RECORDINGS))
def list_account_recordings(AccountSid: str):
    """Twilio ListRecording → ``{"recordings": [...], <paging fields>}`` (this bridge records conferences only)."""
    created = params.date_filter(request.args, DATE_CREATED)
    page = paging.parse(request.args)
    result = ctx().store.list_recordings(g.account_sid, None, created=created, page=page.request)
    kept = {k: v for k, v in request.args.items(multi=True) if k.startswith(DATE_CREATED)}
    path = paths.build(paths.TW_ACCOUNT_RECORDINGS, AccountSid=AccountSid)
    return jsonify(paging.envelope(path, kept, page, result, "recordings", account_recording))


@bp.get(paths.rule(paths.TW_ACCOUNT_RECORDING))
def fetch_account_recording(AccountSid: str, Sid: str):
    """Twilio FetchRecording."""
    return jsonify(account_recording(_account_row(Sid)))


@bp.get(paths.rule(paths.TW_ACCOUNT_RECORDING_MEDIA))
@bp.get(paths.rule(paths.TW_ACCOUNT_RECORDING_WAV))
def account_recording_wav(AccountSid: str, Sid: str):
    """The recording's audio, WAV."""
    return _wav(_account_row(Sid))


@bp.get(paths.rule(paths.TW_ACCOUNT_RECORDING_MP3))
def account_recording_mp3(AccountSid: str, Sid: str):
    """The recording's audio, MP3."""
    return _mp3(_account_row(Sid))
