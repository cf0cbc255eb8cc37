"""jambonz ``listen`` on FreeSWITCH: mod_audio_fork (jambonz's own module, drachtio-freeswitch-modules), driven
over the call's outbound socket.

Commands (mod_audio_fork's API, as jambonz-feature-server's ``lib/tasks/listen.js`` sends them through
drachtio-fsmrf ``forkAudioStart``)::

    module_exists mod_audio_fork                        → "true" / "false" (checked before each start)
    uuid_setvar <uuid> MOD_AUDIO_BASIC_AUTH_USERNAME '<user>'   (wsAuth, then …_PASSWORD)
    uuid_audio_fork <uuid> start <url> <mix-type> <rate> '<metadata JSON>'
    uuid_audio_fork <uuid> send_text '<JSON>'           (passDtmf)
    uuid_audio_fork <uuid> stop

FreeSWITCH splits an API argument string on blanks, honouring single quotes and backslash escapes
(``switch_separate_string``, then ``cleanup_separated_string``: ``\\'`` → ``'``, ``\\\\`` → ``\\``, ``\\n`` →
newline): :func:`quoted` wraps a value in single quotes and escapes backslashes and quotes so the module
receives the exact text. The URL is checked by the markup (no blanks, quotes, backslashes or control
characters) and the runtime (egress policy, on its resolved address); FreeSWITCH then connects by itself, so a
name that resolves differently later is outside the bridge's control (docs/freeswitch.md).
"""
from __future__ import annotations

from typing import Callable

from fsbridge.engines.base import AudioFork, EngineError, NotSupported

from . import wire

MODULE = "mod_audio_fork"
CHECK = "module_exists " + MODULE
API = "uuid_audio_fork"
AUTH_USERNAME_VAR = "MOD_AUDIO_BASIC_AUTH_USERNAME"
AUTH_PASSWORD_VAR = "MOD_AUDIO_BASIC_AUTH_PASSWORD"
MISSING = (f"{MODULE} is not loaded in FreeSWITCH ({CHECK} → false): jambonz listen needs it "
           f"(jambonz's own module; docs/freeswitch.md); the conference audio is not streamed")


def quoted(text: str) -> str:
    """``text`` as one FreeSWITCH API argument: single-quoted, backslashes and single quotes escaped.
    Raises EngineError for CR/LF (they would end the ESL command)."""
    if "\n" in text or "\r" in text:
        raise EngineError("argument contains a line break")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def start_commands(uuid: str, fork: AudioFork):
    """The API commands that start ``fork`` on channel ``uuid`` (auth variables first), in order."""
    out = []
    if fork.username is not None:
        out.append(f"uuid_setvar {uuid} {AUTH_USERNAME_VAR} {quoted(fork.username)}")
        out.append(f"uuid_setvar {uuid} {AUTH_PASSWORD_VAR} {quoted(fork.password or '')}")
    if any(c in fork.url for c in " '\"\\\r\n\t"):
        raise EngineError("listen url contains blanks, quotes or backslashes")
    out.append(f"{API} {uuid} start {fork.url} {fork.mix_type} {int(fork.sample_rate)} {quoted(fork.metadata)}")
    return out


def start(api: Callable[[str], str], uuid: str, fork: AudioFork) -> None:
    """Start ``fork`` on ``uuid`` through ``api`` (one ESL ``api`` command → its body). Raises
    :class:`NotSupported` (:data:`MISSING`) without mod_audio_fork, EngineError when a command is refused."""
    if api(CHECK).strip() != "true":
        raise NotSupported(MISSING)
    for cmd in start_commands(uuid, fork):
        body = api(cmd)
        if not body.startswith(wire.REPLY_OK):
            raise EngineError(f"{cmd.split(' ', 1)[0]} refused: {body.strip()}")


def send_text(api: Callable[[str], str], uuid: str, text: str) -> None:
    """A text frame on ``uuid``'s stream (``send_text``); refusals are ignored (the stream may be gone)."""
    api(f"{API} {uuid} send_text {quoted(text)}")


def stop(api: Callable[[str], str], uuid: str) -> None:
    """Close ``uuid``'s stream (``stop``); refusals are ignored (the channel may be gone already)."""
    api(f"{API} {uuid} stop")
