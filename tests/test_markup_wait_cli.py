"""verbs_allowed_in_wait, and `fsbridge parse` through fsbridge.cli.main and as a real subprocess."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fsbridge.cli import main
from fsbridge.markup import parse, verbs_allowed_in_wait
from fsbridge.markup.errors import MAX_BODY_BYTES
from fsbridge.markup.model import Hangup, Pause, Play, Redirect, Say

REPO = Path(__file__).resolve().parent.parent
GOOD = REPO / "tests" / "fixtures" / "markup" / "good"
WAIT_TWIML = ("<Response><Say>hold on</Say><Play>/m.mp3</Play><Pause/><Gather/><Record/><Dial><Conference>r"
              "</Conference></Dial><Hangup/><Redirect>/w</Redirect></Response>")


def test_wait_document_keeps_play_say_pause_redirect_and_warns_on_the_rest():
    response = verbs_allowed_in_wait(parse(WAIT_TWIML, "twiml"))
    assert response.verbs == (Say("hold on"), Play("/m.mp3"), Pause(), Redirect("/w"))
    # Record was already warned by the parser; Gather, Dial and Hangup by the wait filter
    assert [w.path for w in response.warnings] == ["Response/Record", "verbs[3]", "verbs[4]", "verbs[5]"]
    assert {w.code for w in response.warnings} == {12200} and response.dialect == "twiml"


def test_jambonz_wait_hook_may_hang_up_unless_told_otherwise():
    doc = parse('[{"verb": "say", "text": "hi"}, {"verb": "hangup"}, {"verb": "conference", "name": "x"}]',
                "jambonz")
    assert verbs_allowed_in_wait(doc).verbs == (Say("hi"), Hangup())
    assert verbs_allowed_in_wait(doc, allow_hangup=False).verbs == (Say("hi"),)


def run_main(capsys, *argv):
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_json_and_exits_0(capsys):
    path = GOOD / "twiml" / "all_attributes.xml"
    code, out, err = run_main(capsys, str(path))
    assert (code, err) == (0, "")
    expected = json.loads((GOOD / "twiml" / "all_attributes.expected.json").read_text())
    assert json.loads(out) == expected


def test_cli_dialect_option_and_guess(capsys):
    path = GOOD / "texml" / "minimal.xml"
    assert json.loads(run_main(capsys, str(path))[1])["verbs"][0]["conference"]["trim"] == "trim-silence"
    out = run_main(capsys, "--dialect", "texml", str(path))[1]
    assert json.loads(out)["dialect"] == "texml" and json.loads(out)["verbs"][0]["conference"]["trim"] == "do-not-trim"
    out = run_main(capsys, str(GOOD / "jambonz" / "seed_example.json"))[1]
    assert json.loads(out)["verbs"][0]["verb"] == "conference"


def test_cli_reads_stdin_and_applies_wait_filter(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(WAIT_TWIML.encode())))
    code, out, _ = run_main(capsys, "--wait", "-")
    assert code == 0 and [v["verb"] for v in json.loads(out)["verbs"]] == ["say", "play", "pause", "redirect"]


@pytest.mark.parametrize("body,code", [(b"<Reply/>", 12100), (b"<Response>" + b" " * MAX_BODY_BYTES, 11750)])
def test_cli_error_prints_code_and_exits_2(tmp_path, capsys, body, code):
    path = tmp_path / "doc.xml"
    path.write_bytes(body)
    exit_code, out, err = run_main(capsys, str(path))
    assert (exit_code, out) == (2, "")
    assert err.startswith(f"error {code}: ") and err.endswith("\n")


def test_cli_missing_file_is_11200(capsys, tmp_path):
    exit_code, _, err = run_main(capsys, str(tmp_path / "missing.xml"))
    assert exit_code == 2 and err.startswith("error 11200: cannot read")


def test_cli_content_type_is_checked(capsys):
    exit_code, _, err = run_main(capsys, "--content-type", "audio/mpeg", str(GOOD / "twiml" / "minimal.xml"))
    assert exit_code == 2 and err.startswith("error 12300:")


def test_cli_as_a_subprocess():
    ok = subprocess.run([sys.executable, "-m", "fsbridge", "parse", "--dialect", "jambonz", "-"], cwd=REPO,
                        input=b'[{"verb": "conference", "name": "r", "beep": "x"}]', capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["verbs"][0]["beep"] == "false" and doc["warnings"][0]["code"] == 12200
    bad = subprocess.run([sys.executable, "-m", "fsbridge", "parse", "-"], cwd=REPO, capture_output=True,
                         input=b'<!DOCTYPE r [<!ENTITY a "b">]><Response/>', timeout=60)
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr.decode().startswith("error 12100: ")
