"""Codecs: msgpack for the wire (:mod:`engine.codec.binary`), Bach text for people."""

from engine.codec.binary import DecodeError, EncodeError, decode, decode_batch, encode, encode_batch

__all__ = ["DecodeError", "EncodeError", "decode", "decode_batch", "encode", "encode_batch"]
