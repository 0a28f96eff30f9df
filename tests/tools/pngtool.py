#!/usr/bin/env python3
"""Screenshots of the HTML report, with the standard library only (no imaging package).

  pngtool.py check FILE...       exits 1 if a PNG looks blank: under 50 distinct colours, or
                                 under 3 % of its pixels away from white (sampled 1 in 4)
  pngtool.py recompress IN OUT   the same pixels as RGB, the best filter per row, zlib level 9
"""
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise SystemExit(f"{path}: unexpected PNG type {depth}/{ctype}")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    prev, rows = bytearray(stride), []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                line[i] = (line[i] + paeth(a, b, c)) & 255
        prev = line
        rows.append(bytes(line) if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
    return w, h, rows


def check(paths):
    bad = False
    for path in paths:
        w, h, rows = decode(path)
        colours, inked, sampled = set(), 0, 0
        for r in rows[::2]:
            for x in range(0, w * 3, 6):
                px = r[x:x + 3]
                colours.add(px)
                inked += min(px) < 235
                sampled += 1
        share = inked / sampled
        print(f"{path}: {w}x{h}, {len(colours)} colours, {share:.1%} not near-white")
        if len(colours) < 50 or share < 0.03:
            print(f"{path}: looks blank")
            bad = True
    return 1 if bad else 0


def recompress(src, dst):
    w, h, rows = decode(src)
    out, prev = bytearray(), bytes(w * 3)
    for r in rows:
        left = [r[i - 3] if i >= 3 else 0 for i in range(len(r))]
        upleft = [prev[i - 3] if i >= 3 else 0 for i in range(len(r))]
        cands = [bytes([0]) + r,
                 bytes([1]) + bytes((r[i] - left[i]) & 255 for i in range(len(r))),
                 bytes([2]) + bytes((r[i] - prev[i]) & 255 for i in range(len(r))),
                 bytes([4]) + bytes((r[i] - paeth(left[i], prev[i], upleft[i])) & 255
                                    for i in range(len(r)))]
        out += min(cands, key=lambda c: sum(v if v < 128 else 256 - v for v in c[1:]))
        prev = r

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes(out), 9)) + chunk(b"IEND", b""))
    open(dst, "wb").write(png)
    print(f"{dst}: {w}x{h}, {len(png)} bytes")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2:]))
    if len(sys.argv) == 4 and sys.argv[1] == "recompress":
        sys.exit(recompress(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
