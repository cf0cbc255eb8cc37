"""Verb model class → task class: the one table of what the runtime can run (model: jambonz-feature-server
``lib/tasks/make_task.js``). ``WAIT_VERBS``: what a waitUrl document may contain (Twilio: Play, Say, Pause,
Redirect; anything else is warning 12200)."""
from __future__ import annotations

from fsbridge.markup.model import Conference, Dial, Gather, Hangup, Pause, Play, Redirect, Say
from fsbridge.runtime.tasks.base import Task
from fsbridge.runtime.tasks.conference import ConferenceTask
from fsbridge.runtime.tasks.gather import GatherTask
from fsbridge.runtime.tasks.hangup import HangupTask
from fsbridge.runtime.tasks.pause import PauseTask
from fsbridge.runtime.tasks.play import PlayTask
from fsbridge.runtime.tasks.redirect import RedirectTask
from fsbridge.runtime.tasks.say import SayTask

TASKS = {
    Say: SayTask,
    Play: PlayTask,
    Pause: PauseTask,
    Redirect: RedirectTask,
    Hangup: HangupTask,
    Dial: ConferenceTask,
    Conference: ConferenceTask,
    Gather: GatherTask,
}

WAIT_VERBS = (Play, Say, Pause, Redirect)


def make_task(verb, session) -> Task:
    """The task for ``verb`` (a markup model object); raises KeyError for a verb the runtime cannot run."""
    return TASKS[type(verb)](verb, session)
