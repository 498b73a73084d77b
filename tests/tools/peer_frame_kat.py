#!/usr/bin/env python3
"""Known answers for the peer protocol's frame encryption (docs/peer-protocol.md, section 1),
computed independently of the C++ code with Python's hmac and the `cryptography` package's
AESGCM. tests/unit/peer_frame_cipher_test.cc (PeerFrameCipher.MatchesIndependentKnownAnswers)
and tests/unit/peer_auth_test.cc (PeerUdpAuth.VerifiesAnIndependentKnownAnswer) embed this
script's output:

    python3 tests/tools/peer_frame_kat.py                 prints the vectors
    python3 tests/tools/peer_frame_kat.py --check FILE... exits 1 unless every vector appears in
                                                          one of the files (ctest runs this)

Exits 77 (ctest: skipped) when the `cryptography` package is missing.

Inputs: secret "0123456789abcdef-shoal-test", client nonce 00 01 .. 0f, server nonce 10 11 .. 1f.
Frames in the client-to-server direction: frame 0 with header "header" and payload "payload",
frame 1 with header "h" and no payload. Also one UDP envelope tag.
"""
import hashlib
import hmac
import pathlib
import struct
import sys

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    print("peer_frame_kat: python3 'cryptography' package is missing; skipped")
    sys.exit(77)


def hmac_sha256(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def seal(key, part, seq, prefix, plaintext):
    iv = struct.pack(">IQ", part, seq)
    out = AESGCM(key).encrypt(iv, plaintext, prefix)  # ciphertext || 16-byte tag
    return out[:-16], out[-16:]


def vectors():
    """(name, hex) pairs."""
    out = []
    secret = b"0123456789abcdef-shoal-test"
    nc = bytes(range(16))
    ns = bytes(range(16, 32))
    tcp_key = hmac_sha256(secret, b"shoal peer tcp v1")
    k_c2s = hmac_sha256(tcp_key, b"c2s v3", nc, ns)
    k_s2c = hmac_sha256(tcp_key, b"s2c v3", nc, ns)
    out += [("k_c2s", k_c2s.hex()), ("k_s2c", k_s2c.hex())]

    prefix0 = struct.pack(">II", 6, 7)
    for name, part, seq, prefix, plain in [
        ("frame0 header", 0, 0, prefix0, b"header"),
        ("frame0 payload", 1, 0, prefix0, b"payload"),
        ("frame1 header", 0, 1, struct.pack(">II", 1, 0), b"h"),
    ]:
        ct, tag = seal(k_c2s, part, seq, prefix, plain)
        out += [(name + " ciphertext", ct.hex()), (name + " tag", tag.hex())]

    # UDP: tag = HMAC(udp_key, first 28 envelope bytes || u8 len(dest) || dest || body).
    udp_key = hmac_sha256(secret, b"shoal peer udp v1")
    head = b"SH\x02\x01" + struct.pack(">Q", 1_700_000_000_000) + bytes(range(16))
    dest = b"node-a"
    out.append(("udp tag", hmac_sha256(udp_key, head, bytes([len(dest)]), dest, b"body").hex()))
    return out


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        text = "".join(pathlib.Path(f).read_text() for f in sys.argv[2:])
        missing = [(n, h) for n, h in vectors() if '"' + h + '"' not in text]
        for n, h in missing:
            print(f"peer_frame_kat: {n} {h} is not in the tests")
        if not missing:
            print(f"peer_frame_kat: {len(vectors())} known answers agree")
        sys.exit(1 if missing else 0)
    for name, value in vectors():
        print(name, value)


if __name__ == "__main__":
    main()
