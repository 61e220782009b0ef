"""A spoken answer ended by talk detection, on the real Asterisk: the scenario of
tests/telephony/talk_end.py over a SIPp call (a 1.5 s tone as u-law RTP), a raw FastAGI
peer and a raw AMI connection; tests/telephony/test_emulator_talk_end.py runs it over the
emulator with the same expectations.

Observed on Asterisk 20.20.1 (2 runs, a u-law SIPp caller, transmit_silence=yes):

- ``RECORD FILE <base> wav16 "#D" 20000 0 BEEP`` (no ``s=``) writes ``<base>.wav16``: a RIFF
  wav, 16000 Hz, mono, 16-bit (the u-law caller resampled by codec_resample); ``endpos``
  counts samples of the file, 16 kHz (``endpos=35200`` for a 35200-frame file, 2.2 s).
- With ``TALK_DETECT(set) "800,256"``: ``ChannelTalkingStart`` (``Privilege: call,all``) at
  the tone's first frame, ``ChannelTalkingStop`` 2.28 s later (1.5 s of tone + 0.78 s of
  silence), its headers the channel snapshot (Channel, ChannelState, ChannelStateDesc,
  CallerIDNum, CallerIDName, ConnectedLineNum, ConnectedLineName, Language, AccountCode,
  Context, Exten, Priority, Uniqueid, Linkedid), then ``Duration: 1480`` (ms of talk: the
  time since the start less the silence threshold); no TalkingDuration header.
- AMI ``PlayDTMF`` ``Channel: PJSIP/trunk-...`` ``Digit: D`` ``Receive: yes`` answers
  ``Response: Success`` / ``Message: DTMF successfully queued`` and RECORD FILE answers
  ``200 result=68 (dtmf) endpos=35200``: the key ends it as a caller's would. The file keeps
  the whole tone (1.51 s loud), then the silence up to the key less res_agi's rewind of
  200 ms of *8 kHz* samples (file.c: 1600 samples, 0.1 s of a wav16): the tone ends at frame
  24078, the file at 35200 (0.70 s = 0.8 s of silence + the AMI round trip - 0.1 s).
- ``TALK_DETECT(set)`` again while set (``2500,256`` then ``800,256``) updates the thresholds
  of the detector already attached (func_talkdetect.c ``set_talk_detect``): the stop comes
  0.8 s after the talk, as with one set (2.28 s after the start, ``Duration: 1480``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.telephony.emulator_harness import RawAmi
from tests.telephony.talk_end import SPEECH_S, TALK_DETECT, check, talk_end
from tests.telephony.test_emulator_calls import tone_wav

from .rig import AMI_SECRET, AMI_USER, Asterisk
from .sipp import Pause, Speech
from .test_agi_conformance import a_call

pytestmark = pytest.mark.asterisk

#: SIPp waits this long after the answer before it speaks (the tone was in the recording
#: from its first frames: AGI's set-up and the beep took about as long).
SPEAKS_AFTER_S = 2.5


async def spoken_turn(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path, number: str, settings: tuple[str, ...]
) -> None:
    steps = (
        Pause(SPEAKS_AFTER_S),
        Speech(tone_wav(tmp_path / "said.wav", SPEECH_S), silence_s=6.0),
    )
    ami_conn = await RawAmi.connect(pbx.ports.ami)
    try:
        await ami_conn.login(AMI_USER, AMI_SECRET, events="call")
        async with a_call(pbx, sip_dir, number, steps) as peer:
            turn = await talk_end(peer, ami_conn, tmp_path / "answer", settings)
            check(turn, silence_ms=int(settings[-1].split(",")[0]))
    finally:
        await ami_conn.close()


async def test_talking_stop_then_a_received_key_ends_a_wav16_recording(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    await spoken_turn(pbx, sip_dir, tmp_path, "+971501119011", (TALK_DETECT,))


async def test_talk_detect_set_again_takes_the_new_silence(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    await spoken_turn(pbx, sip_dir, tmp_path, "+971501119012", ("2500,256", TALK_DETECT))
