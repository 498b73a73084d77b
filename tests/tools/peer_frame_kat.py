#!/usr/bin/env python3
"""Known answers for the peer protocol's frame encryption (docs/peer-protocol.md, section 1),
computed independently of the C++ code with Python's hmac and the `cryptography` package's
AESGCM. tests/unit/peer_auth_test.cc (PeerFrameCipher.MatchesIndependentKnownAnswers) embeds
this script's output; run it to check or regenerate them:

    python3 tests/tools/peer_frame_kat.py

Inputs: secret "0123456789abcdef-shoal-test", client nonce 00 01 .. 0f, server nonce 10 11 .. 1f.
Frames in the client-to-server direction: frame 0 with header "header" and payload "payload",
frame 1 with header "h" and no payload. Also one UDP envelope tag.
"""
import hashlib
import hmac
import struct
import sys

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    sys.exit("python3 'cryptography' package is missing")


def hmac_sha256(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def seal(key, part, seq, prefix, plaintext):
    iv = struct.pack(">IQ", part, seq)
    out = AESGCM(key).encrypt(iv, plaintext, prefix)  # ciphertext || 16-byte tag
    return out[:-16], out[-16:]


def main():
    secret = b"0123456789abcdef-shoal-test"
    nc = bytes(range(16))
    ns = bytes(range(16, 32))
    tcp_key = hmac_sha256(secret, b"shoal peer tcp v1")
    k_c2s = hmac_sha256(tcp_key, b"c2s v3", nc, ns)
    k_s2c = hmac_sha256(tcp_key, b"s2c v3", nc, ns)
    print("k_c2s", k_c2s.hex())
    print("k_s2c", k_s2c.hex())

    prefix0 = struct.pack(">II", 6, 7)
    ct, tag = seal(k_c2s, 0, 0, prefix0, b"header")
    print("frame0 header", ct.hex(), tag.hex())
    ct, tag = seal(k_c2s, 1, 0, prefix0, b"payload")
    print("frame0 payload", ct.hex(), tag.hex())
    prefix1 = struct.pack(">II", 1, 0)
    ct, tag = seal(k_c2s, 0, 1, prefix1, b"h")
    print("frame1 header", ct.hex(), tag.hex())

    # UDP: tag = HMAC(udp_key, first 28 envelope bytes || u8 len(dest) || dest || body).
    udp_key = hmac_sha256(secret, b"shoal peer udp v1")
    head = b"SH\x02\x01" + struct.pack(">Q", 1_700_000_000_000) + bytes(range(16))
    dest = b"node-a"
    print("udp tag", hmac_sha256(udp_key, head, bytes([len(dest)]), dest, b"body").hex())


if __name__ == "__main__":
    main()
