"""``hotline speech transcribe``: run a recogniser on recordings, outside the service.

For admins checking a model and a menu's phrases on real call recordings, and for scripts
(``--json``: one object per file and line). Exit status: 0 when every file was transcribed,
1 when a file could not be read or the model could not be loaded.

Hook-up in ``hotline/cli.py``: ``speech_cli.register(subparsers)``; the parsed arguments
carry ``run`` (``args.run(args) -> int``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from ivr.speech.audio import AudioError
from ivr.speech.models import DEFAULT_MODEL, ENGINES, resolve_model
from ivr.speech.recognizer import ModelError, Recognizer
from ivr.speech.service import load_recognizer
from ivr.speech.settings import SpeechSettings, WhisperOptions

__all__ = ["register", "run_transcribe"]

PROG = "hotline speech"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    speech = subparsers.add_parser("speech", help="speech recognition tools")
    speech.set_defaults(run=lambda _args: _usage(speech))
    commands = speech.add_subparsers(dest="speech_command", metavar="COMMAND")
    transcribe = commands.add_parser(
        "transcribe",
        help="print what a recogniser hears in wav files",
        description="Transcribe wav recordings (any rate; mono or stereo 16-bit PCM) with a "
        "local model: text, confidence and decode seconds per file.",
    )
    transcribe.add_argument("files", nargs="+", type=Path, metavar="FILE.wav")
    transcribe.add_argument("--engine", choices=ENGINES, default="whisper")
    transcribe.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="DIR",
        help="model directory (default: the model a package bundles for the language)",
    )
    transcribe.add_argument("--language", default="en", help="language code (default en)")
    transcribe.add_argument(
        "--phrase",
        action="append",
        dest="phrases",
        metavar="TEXT",
        help="a menu phrase (repeatable): whisper's prompt, vosk's grammar",
    )
    transcribe.add_argument("--beam-size", type=int, default=None, help="whisper beam size")
    transcribe.add_argument("--json", action="store_true", help="one JSON object per line")
    transcribe.set_defaults(run=run_transcribe)


def run_transcribe(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        recognizer = _load(args)
    except ModelError as exc:
        print(f"{PROG}: {exc}", file=err)
        return 1
    status = 0
    for path in args.files:
        try:
            transcript = recognizer.transcribe(path, phrases=args.phrases)
        except AudioError as exc:
            print(f"{PROG}: {exc}", file=err)
            status = 1
            continue
        if args.json:
            record = {
                "file": str(path),
                "text": transcript.text,
                "confidence": round(transcript.confidence, 4),
                "seconds": round(transcript.seconds, 4),
            }
            print(json.dumps(record, ensure_ascii=False), file=out)
        else:
            print(
                f"{path}\t{transcript.confidence:.2f}\t{transcript.seconds:.2f}s\t{transcript.text}",
                file=out,
            )
        out.flush()
    return status


def _load(args: argparse.Namespace) -> Recognizer:
    settings = SpeechSettings(workers=1, max_audio_s=120)
    if args.beam_size is not None:
        if not 1 <= args.beam_size <= 10:
            raise ModelError("--beam-size must be between 1 and 10")
        whisper = WhisperOptions(**{**settings.whisper.model_dump(), "beam_size": args.beam_size})
        settings = settings.model_copy(update={"whisper": whisper})
    model_dir = resolve_model(args.engine, args.language, args.model)
    return load_recognizer(args.engine, args.language, model_dir, settings)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    print(f"{PROG}: a command is required (transcribe)", file=sys.stderr)
    return 2
