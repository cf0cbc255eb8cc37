"""The standalone engine driving the real conference domain (ConferenceState): the native events it emits
must produce the Twilio conference lifecycle, exactly as FreeSWITCH's would. Real speech, simulated clock."""
from pathlib import Path

import gevent
import numpy as np

from fsbridge.conference.state import ConferenceState
from fsbridge.engines.standalone.clock import Clock
from fsbridge.engines.standalone.engine import StandaloneEngine
from fsbridge.engines.standalone.sources import ArraySource, load_audio
from fsbridge.markup.model import Conference

AUDIO = Path(__file__).resolve().parent / "fixtures" / "audio"
ACCOUNT = "AC" + "0" * 31 + "1"
RATE, F = 16000, 320


def test_domain_lifecycle_on_the_standalone_engine(tmp_path):
    eng = StandaloneEngine(rate=RATE, clock=Clock(speed=None, start_epoch=1_800_000_000.0))
    state = ConferenceState(recordings_dir=str(tmp_path), clock=lambda: eng.clock.epoch_us() / 1e6)
    names = []

    def run(outcome):
        names.extend(e.name for e in outcome.events)
        for cmd in outcome.commands:
            eng.execute(cmd)

    eng.set_event_sink(lambda ev: run(state.apply(ev)))
    speech = load_audio(str(AUDIO / "speech-a.wav"), RATE)
    mary = eng.create_call("CAmary", "silence_stream://-1")
    alice = eng.create_call("CAalice", ArraySource(np.concatenate([np.zeros(RATE, np.int16), speech]), F))

    def dial(leg, **conf):
        out = state.join(account_sid=ACCOUNT, call_sid=leg.unique_id, unique_id=leg.unique_id,
                         conference=Conference(name="Team Meeting", record="record-from-start", beep="false",
                                               **conf),
                         dialect="twiml", wait_media=("tone_stream://%(500,500,440)",))
        names.extend(e.name for e in out.events)
        (cmd,) = out.commands
        return gevent.spawn(leg.join, cmd)

    gm = dial(mary, start_conference_on_enter=False)
    gevent.sleep(0)
    eng.run_for(0.5)
    assert names == ["participant-join"]
    assert mary.heard_audio().any(), "Mary hears the wait music before the conference starts"
    ga = dial(alice)
    gevent.sleep(0)
    eng.run_until(lambda: ga.ready(), max_seconds=10)   # Alice talks, then her source ends: she hangs up
    eng.run_for(0.5)
    assert ga.value == "hangup" and not gm.ready()
    assert names[:3] == ["participant-join", "participant-join", "conference-start"]
    assert "participant-speech-start" in names and "participant-speech-stop" in names
    assert names.index("participant-speech-start") < names.index("participant-speech-stop") \
        < names.index("participant-leave")
    mary.hangup()
    eng.run_for(0.1)
    assert gm.value == "hangup"
    tail = names[names.index("participant-leave"):]
    assert "conference-end" in tail and "recording-completed" in tail
    conf = state.conferences(ACCOUNT)[0]
    (rec,) = state.recordings(conf.sid)
    assert rec.status == "completed"
    # trim-silence (Twilio default): the recording is Alice's speech, without the leading second of silence
    assert abs(rec.duration_s - speech.size / RATE) <= 0.5
    # Mary heard Alice sample-exactly once the conference started
    heard = mary.heard_audio()
    start = 25 * F + RATE   # Alice joined at 0.5 s; her speech starts 1 s later
    assert np.array_equal(heard[start: start + speech.size], speech)
