"""End to end with the real parts: espeak-ng caller audio recorded by the emulator, Whisper
base (the default model) in the speech service, the classifier trained from the
shipped config/intents.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config_yaml import parse_yaml
from telephony.emulator import Caller

from .support import flow_of, rig

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow

pytest.importorskip("faster_whisper")
pytest.importorskip("sklearn")


async def test_a_spoken_fault_report_reaches_the_fault_queue(tmp_path: Path) -> None:
    from ivr.intent.classifier import build_classifier
    from ivr.intent.config import IntentsConfig
    from ivr.speech.service import build_speech_service
    from ivr.speech.settings import SpeechSettings
    from ivr.speech.synth import synthesis_available, synthesize

    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed")
    intents = parse_yaml((ROOT / "config" / "intents.yaml").read_text(encoding="utf-8"))
    classifier = build_classifier(IntentsConfig.model_validate(intents.data))
    speech = build_speech_service(SpeechSettings(timeout_s=20))
    await speech.start()
    flow = flow_of(
        """
        entry: reason
        nodes:
          reason:
            ask:
              prompt: how-can-we-help
              intents: {technical_fault: faults, billing: billing}
              next: agent
              fallback: agent
          faults:
            queue: {queue: support}
          billing:
            queue: {queue: billing}
          agent:
            queue: {}
        """,
        tmp_path,
    )
    voice = synthesize("my internet is not working", tmp_path / "voice")
    try:
        async with rig(flow, recogniser=speech, classifier=classifier) as r:
            await r.call(Caller(speech=voice), timeout_s=30)
    finally:
        await speech.close()

    (handed,) = r.acd.calls
    assert (handed.queue, handed.intent, handed.call_type) == (
        "support",
        "technical_fault",
        "technical_fault",
    )
    assert "internet" in handed.attributes["transcript"].lower()
    assert not list((tmp_path / "recordings").glob("*.wav"))
