"""FIPS 203 ML-KEM-768 encapsulation with caller-supplied randomness.

``cryptography`` implements ML-KEM (key generation from a seed, encapsulation,
decapsulation) but draws the encapsulation randomness ``m`` itself. X-Wing's
derandomized encapsulation (and with it a deterministic HPKE sender for tests
and vectors) needs ``ML-KEM.Encaps_internal(ek, m)`` (FIPS 203 Algorithm 17),
so that algorithm and the K-PKE encryption under it are written here.

Only encapsulation lives here; decapsulation and key generation stay with
``cryptography``. This code runs only when randomness is injected: it is plain
Python, not constant-time, and takes milliseconds, where the default path
uses OpenSSL.
"""

from __future__ import annotations

import hashlib

from ..errors import ProtocolError

__all__ = ["CIPHERTEXT_LENGTH", "ENCAPSULATION_KEY_LENGTH", "encaps_internal"]

Q = 3329
N = 256
K = 3  # ML-KEM-768
ETA1 = 2
ETA2 = 2
DU = 10
DV = 4
ENCAPSULATION_KEY_LENGTH = 384 * K + 32  # 1184
CIPHERTEXT_LENGTH = 32 * (DU * K + DV)  # 1088

Poly = list[int]


def _bitrev7(i: int) -> int:
    return int(f"{i:07b}"[::-1], 2)


# ζ = 17 is the primitive 256th root of unity mod q (FIPS 203 §4.3).
_ZETAS = [pow(17, _bitrev7(i), Q) for i in range(128)]
_GAMMAS = [pow(17, 2 * _bitrev7(i) + 1, Q) for i in range(128)]
_N_INV = 3303  # 128^-1 mod q


# --- Algorithms 9-12: the number-theoretic transform -----------------------------


def _ntt(f: Poly) -> Poly:
    f = list(f)
    i = 1
    length = 128
    while length >= 2:
        for start in range(0, N, 2 * length):
            zeta = _ZETAS[i]
            i += 1
            for j in range(start, start + length):
                t = zeta * f[j + length] % Q
                f[j + length] = (f[j] - t) % Q
                f[j] = (f[j] + t) % Q
        length //= 2
    return f


def _ntt_inverse(f: Poly) -> Poly:
    f = list(f)
    i = 127
    length = 2
    while length <= 128:
        for start in range(0, N, 2 * length):
            zeta = _ZETAS[i]
            i -= 1
            for j in range(start, start + length):
                t = f[j]
                f[j] = (t + f[j + length]) % Q
                f[j + length] = zeta * (f[j + length] - t) % Q
        length *= 2
    return [x * _N_INV % Q for x in f]


def _multiply_ntts(f: Poly, g: Poly) -> Poly:
    h = [0] * N
    for i in range(128):
        a0, a1, b0, b1 = f[2 * i], f[2 * i + 1], g[2 * i], g[2 * i + 1]
        h[2 * i] = (a0 * b0 + a1 * b1 % Q * _GAMMAS[i]) % Q
        h[2 * i + 1] = (a0 * b1 + a1 * b0) % Q
    return h


def _add(f: Poly, g: Poly) -> Poly:
    return [(a + b) % Q for a, b in zip(f, g, strict=True)]


# --- Algorithms 5-8: encoding and sampling ---------------------------------------


def _byte_encode(f: Poly, d: int) -> bytes:
    acc = 0
    for i, x in enumerate(f):
        acc |= x << (d * i)
    return acc.to_bytes(32 * d, "little")


def _byte_decode(data: bytes, d: int) -> Poly:
    acc = int.from_bytes(data, "little")
    mask = (1 << d) - 1
    return [(acc >> (d * i)) & mask for i in range(N)]


def _compress(f: Poly, d: int) -> Poly:
    # round(2^d / q * x) mod 2^d, in integers: floor((2^(d+1) x + q) / 2q).
    mask = (1 << d) - 1
    return [(((x << (d + 1)) + Q) // (2 * Q)) & mask for x in f]


def _sample_ntt(seed: bytes) -> Poly:
    """Algorithm 7: rejection-sample a polynomial in NTT form from SHAKE128(seed)."""
    length = 840  # enough for 256 coefficients with overwhelming probability
    while True:
        stream = hashlib.shake_128(seed).digest(length)
        coefficients: Poly = []
        for pos in range(0, length - 2, 3):
            c0, c1, c2 = stream[pos], stream[pos + 1], stream[pos + 2]
            d1 = c0 | ((c1 & 0x0F) << 8)
            d2 = (c1 >> 4) | (c2 << 4)
            if d1 < Q:
                coefficients.append(d1)
            if d2 < Q and len(coefficients) < N:
                coefficients.append(d2)
            if len(coefficients) >= N:
                return coefficients[:N]
        length *= 2  # squeeze further; the prefix is the same stream


def _sample_cbd2(data: bytes) -> Poly:
    """Algorithm 8 for η = 2: each coefficient is (b0 + b1) - (b2 + b3) of a nibble."""
    f: Poly = []
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            f.append(((nibble & 1) + ((nibble >> 1) & 1) - ((nibble >> 2) & 1) - (nibble >> 3)) % Q)
    return f


def _prf(eta: int, s: bytes, b: int) -> bytes:
    return hashlib.shake_256(s + bytes((b,))).digest(64 * eta)


# --- Algorithm 14: K-PKE.Encrypt -------------------------------------------------


def _k_pke_encrypt(ek: bytes, m: bytes, r: bytes) -> bytes:
    t_hat = [_byte_decode(ek[384 * i : 384 * (i + 1)], 12) for i in range(K)]
    rho = ek[384 * K :]
    # Â[i][j] = SampleNTT(ρ ‖ j ‖ i); only its transpose is used below.
    a_hat = [[_sample_ntt(rho + bytes((j, i))) for j in range(K)] for i in range(K)]
    y = [_sample_cbd2(_prf(ETA1, r, i)) for i in range(K)]
    e1 = [_sample_cbd2(_prf(ETA2, r, K + i)) for i in range(K)]
    e2 = _sample_cbd2(_prf(ETA2, r, 2 * K))
    y_hat = [_ntt(p) for p in y]

    u = []
    for i in range(K):
        acc = [0] * N
        for j in range(K):
            acc = _add(acc, _multiply_ntts(a_hat[j][i], y_hat[j]))
        u.append(_add(_ntt_inverse(acc), e1[i]))

    mu = [((m[i // 8] >> (i % 8)) & 1) * 1665 for i in range(N)]  # Decompress_1(ByteDecode_1(m))
    acc = [0] * N
    for j in range(K):
        acc = _add(acc, _multiply_ntts(t_hat[j], y_hat[j]))
    v = _add(_add(_ntt_inverse(acc), e2), mu)

    c1 = b"".join(_byte_encode(_compress(p, DU), DU) for p in u)
    return c1 + _byte_encode(_compress(v, DV), DV)


# --- Algorithm 17 ----------------------------------------------------------------


def encaps_internal(ek: bytes, m: bytes) -> tuple[bytes, bytes]:
    """ML-KEM-768.Encaps_internal(ek, m) -> ``(shared_key, ciphertext)``.

    Performs the encapsulation key check of FIPS 203 §7.2 first and raises
    `ProtocolError` if ``ek`` fails it.
    """
    if len(m) != 32:
        raise ValueError("ML-KEM encapsulation randomness is 32 bytes")
    # §7.2: type check, then modulus check (every coefficient below q).
    if len(ek) != ENCAPSULATION_KEY_LENGTH:
        raise ProtocolError(f"an ML-KEM-768 encapsulation key is {ENCAPSULATION_KEY_LENGTH} bytes")
    for i in range(K):
        if any(x >= Q for x in _byte_decode(ek[384 * i : 384 * (i + 1)], 12)):
            raise ProtocolError("ML-KEM-768 encapsulation key fails the modulus check (FIPS 203 §7.2)")
    g = hashlib.sha3_512(m + hashlib.sha3_256(ek).digest()).digest()
    shared_key, r = g[:32], g[32:]
    return shared_key, _k_pke_encrypt(ek, m, r)
