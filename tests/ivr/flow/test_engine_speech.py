"""Speech turns: the caller's answer recorded, recognised (a fake recogniser), understood
(a keyword classifier), routed; and every way speech fails falls back to keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.flow.flow import Flow
from telephony.emulator import Caller

from .support import (
    FakeRecogniser,
    FakeTranscript,
    KeywordClassifier,
    flow_of,
    names,
    played,
    rig,
    shipped_classifier,
    write_wav,
)

ASK = """
    entry: reason
    nodes:
      reason:
        ask:
          prompt: how-can-we-help
          intents: {billing: billing}
          next: agent
          fallback: keys
          no_match_prompt: not-understood
      keys:
        menu:
          prompt: main-menu
          options: {"3": billing, "0": agent}
      billing:
        queue: {queue: billing}
      agent:
        queue: {}
"""

INTENTS = KeywordClassifier(
    {"bill": ("billing", "billing", 2), "cancel": ("cancellation", "cancellation", 4)}
)


@pytest.fixture
def ask(tmp_path: Path) -> Flow:
    return flow_of(ASK, tmp_path)


@pytest.fixture
def voice(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "caller.wav", seconds=1.0)


async def test_spoken_reason_becomes_an_intent_and_picks_the_node(ask: Flow, voice: Path) -> None:
    recogniser = FakeRecogniser(["I have a question about my bill"])
    async with rig(ask, recogniser=recogniser, classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice))

    (handed,) = r.acd.calls
    assert (handed.queue, handed.intent, handed.call_type) == ("billing", "billing", "billing")
    assert handed.complexity == 2
    assert handed.attributes["transcript"] == "I have a question about my bill"
    record = next(c for c in result.commands if c.startswith("RECORD FILE"))
    assert record.endswith("10000 0 BEEP s=2")
    (wav, language, existed) = recogniser.heard[0]
    assert (language, existed) == ("en", True)
    assert not wav.exists()  # the caller's voice is not kept
    assert r.reports[0].trace[0].result == "intent billing (0.90)"


async def test_a_known_intent_without_its_own_node_goes_to_next(ask: Flow, voice: Path) -> None:
    recogniser = FakeRecogniser(["cancel my contract"])
    async with rig(ask, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice))

    (handed,) = r.acd.calls
    assert (handed.queue, handed.call_type, handed.complexity) == (None, "cancellation", 4)


async def test_recogniser_giving_up_falls_back_to_the_key_menu(ask: Flow, voice: Path) -> None:
    async with rig(ask, recogniser=FakeRecogniser([None]), classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice, dtmf="3", barge_in=False))

    assert r.acd.calls[0].queue == "billing"
    assert names(played(result)) == ["en/how-can-we-help", "en/main-menu"]
    assert r.reports[0].trace[0].result == "speech failed: keys instead"


async def test_words_not_understood_are_asked_again_then_keys(ask: Flow, voice: Path) -> None:
    recogniser = FakeRecogniser(["hmm well", "erm"])
    async with rig(ask, recogniser=recogniser, classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice, dtmf="0", barge_in=False))

    assert names(played(result)) == [
        "en/how-can-we-help",
        "en/not-understood",
        "en/how-can-we-help",
        "en/main-menu",
    ]
    assert r.reports[0].trace[0].input == "said 'hmm well', said 'erm'"
    assert "intent" not in r.acd.calls[0].attributes


async def test_without_a_speech_service_the_question_is_not_asked(ask: Flow) -> None:
    async with rig(ask) as r:
        result = await r.call(Caller(dtmf="3"))

    assert names(played(result)) == ["en/main-menu"]
    assert not any(c.startswith("RECORD FILE") for c in result.commands)


SPEECH_MENU = """
    entry: main
    nodes:
      main:
        menu:
          prompt: main-menu
          options: {"3": billing, "0": agent}
          speech:
            intents: {billing: billing}
            phrases: {en: {operator: agent, "a person": agent}}
            fallback_prompt: use-keys
      billing:
        queue: {queue: billing}
      agent:
        queue: {queue: agents}
"""


async def test_speech_menu_takes_a_phrase(tmp_path: Path, voice: Path) -> None:
    flow = flow_of(SPEECH_MENU, tmp_path)
    recogniser = FakeRecogniser(["Operator, please!"])
    async with rig(flow, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice, barge_in=False))

    assert r.acd.calls[0].queue == "agents"


async def test_speech_menu_takes_an_intent(tmp_path: Path, voice: Path) -> None:
    flow = flow_of(SPEECH_MENU, tmp_path)
    recogniser = FakeRecogniser(["it is about my last bill"])
    async with rig(flow, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice, barge_in=False))

    assert r.acd.calls[0].queue == "billing"


async def test_speech_menu_takes_a_key_pressed_instead_of_speaking(
    tmp_path: Path, voice: Path
) -> None:
    flow = flow_of(SPEECH_MENU, tmp_path)
    recogniser = FakeRecogniser(["operator"])
    async with rig(flow, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice, dtmf="3"))  # pressed while being recorded

    assert r.acd.calls[0].queue == "billing"
    assert not recogniser.heard


async def test_a_key_pressed_during_an_open_question_switches_to_keys(
    ask: Flow, voice: Path
) -> None:
    recogniser = FakeRecogniser(["my bill"])
    async with rig(ask, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice, dtmf="03", barge_in=True))

    assert r.reports[0].trace[0].result == "caller pressed a key: keys instead"
    assert r.acd.calls[0].queue == "billing"
    assert not recogniser.heard


async def test_speech_menu_whose_recogniser_fails_goes_on_with_keys(
    tmp_path: Path, voice: Path
) -> None:
    flow = flow_of(SPEECH_MENU, tmp_path)
    async with rig(flow, recogniser=FakeRecogniser([None]), classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice, dtmf="3", barge_in=False))

    assert names(played(result)) == ["en/main-menu", "en/use-keys"]
    assert r.acd.calls[0].queue == "billing"
    assert r.reports[0].trace[0].input == "speech (not recognised: keys instead), dtmf 3"


async def test_silence_counts_as_no_answer_and_ends_in_keys(ask: Flow, voice: Path) -> None:
    recogniser = FakeRecogniser(["", ""])
    async with rig(ask, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice, dtmf="0", barge_in=False))

    assert r.reports[0].trace[0].input == "silence, silence"
    assert r.reports[0].trace[1].node == "keys"


async def test_caller_hanging_up_while_recorded_ends_cleanly_and_leaves_no_audio(
    ask: Flow, voice: Path, tmp_path: Path
) -> None:
    recogniser = FakeRecogniser(["my bill"])
    async with rig(ask, recogniser=recogniser, classifier=INTENTS) as r:
        # 1 ANSWER, 2 the question, 3 RECORD FILE
        await r.call(Caller(speech=voice, hangup_on_command=3, hangup_delay_s=0.2))

    (report,) = r.reports
    assert (report.ending, report.last_node) == ("caller_hangup", "reason")
    assert not recogniser.heard
    assert not list((tmp_path / "recordings").glob("*"))


async def test_what_the_ivr_learnt_rides_with_the_call_for_the_agents_screen_pop(
    tmp_path: Path, voice: Path
) -> None:
    from acd.calls import MenuStep
    from center.incoming import to_incoming_call

    flow = flow_of(
        """
        entry: reason
        nodes:
          reason:
            ask:
              prompt: how-can-we-help
              intents: {technical_fault: fault}
              next: agent
              fallback: agent
              no_match_prompt: not-understood
          fault:
            set: {values: {queue: support}, next: agent}
          agent:
            queue: {}
        """,
        tmp_path,
    )
    recogniser = FakeRecogniser(["my fibre internet is not working"])
    async with rig(flow, recogniser=recogniser, classifier=shipped_classifier()) as r:
        await r.call(Caller(number="+971501110042", speech=voice))

    (handed,) = r.acd.calls
    card = to_incoming_call(handed, default_queue="general").caller
    assert card.number == "+971501110042"
    assert card.transcript == "my fibre internet is not working"
    assert card.intent_confidence is not None
    assert card.intent_confidence > 0.5
    assert card.entities == (("product", "fibre-500"),)
    # the way to the queue (the queue step itself is still running when the call is handed)
    assert card.menu_path == (
        MenuStep("reason", "said 'my fibre internet is not working'"),
        MenuStep("fault", None),
    )


CONFIRM = """
    entry: reason
    nodes:
      reason:
        ask:
          prompt: how-can-we-help
          intents: {billing: billing}
          next: agent
          fallback: keys
          no_match_prompt: not-understood
          confirm:
            below: 0.95
            prompts: {billing: confirm-billing}
      keys:
        menu:
          prompt: main-menu
          options: {"3": billing, "0": agent}
      billing:
        queue: {queue: billing}
      agent:
        queue: {}
"""


@pytest.fixture
def confirming(tmp_path: Path) -> Flow:
    return flow_of(CONFIRM, tmp_path)


async def test_a_middling_intent_confirmed_by_yes_goes_on(confirming: Flow, voice: Path) -> None:
    recogniser = FakeRecogniser(["question about my bill", "yes that's right"])
    async with rig(confirming, recogniser=recogniser, classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice))

    assert names(played(result)) == ["en/how-can-we-help", "en/confirm-billing"]
    (handed,) = r.acd.calls
    assert (handed.queue, handed.intent) == ("billing", "billing")
    assert handed.attributes["transcript"] == "question about my bill"


async def test_a_denied_intent_is_asked_again_and_not_kept(confirming: Flow, voice: Path) -> None:
    recogniser = FakeRecogniser(["my bill", "no", "erm", None])
    async with rig(confirming, recogniser=recogniser, classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice, dtmf="0", barge_in=False))

    assert names(played(result)) == [
        "en/how-can-we-help",
        "en/confirm-billing",
        "en/not-understood",
        "en/how-can-we-help",
        "en/main-menu",
    ]
    assert "intent" not in r.acd.calls[0].attributes


async def test_no_usable_answer_to_the_confirmation_goes_to_keys(
    confirming: Flow, voice: Path
) -> None:
    recogniser = FakeRecogniser(["my bill", "the weather is nice"])
    async with rig(confirming, recogniser=recogniser, classifier=INTENTS) as r:
        await r.call(Caller(speech=voice, dtmf="0", barge_in=False))

    assert r.reports[0].trace[0].result == "billing not confirmed: keys instead"
    assert "intent" not in r.acd.calls[0].attributes


async def test_a_sure_intent_is_not_confirmed(tmp_path: Path, voice: Path) -> None:
    flow = flow_of(CONFIRM.replace("below: 0.95", "below: 0.5"), tmp_path)
    async with rig(flow, recogniser=FakeRecogniser(["my bill"]), classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice))

    assert names(played(result)) == ["en/how-can-we-help"]
    assert r.acd.calls[0].queue == "billing"


async def test_a_next_best_reading_is_understood_when_the_first_is_not(
    ask: Flow, voice: Path
) -> None:
    @dataclass
    class NBest(FakeRecogniser):
        async def recognise(
            self, wav: Path, *, language: str, phrases: Sequence[str] | None = None
        ) -> FakeTranscript | None:
            return FakeTranscript("a question about my bull", 0.5, ("a question about my bill",))

    async with rig(ask, recogniser=NBest([]), classifier=INTENTS) as r:
        await r.call(Caller(speech=voice))

    (handed,) = r.acd.calls
    assert (handed.queue, handed.attributes["transcript"]) == (
        "billing",
        "a question about my bill",
    )
