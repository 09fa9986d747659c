"""A tiny RGB rasteriser and PNG encoder (numpy + zlib), enough for the report's line and bar charts.

Why not matplotlib: it is a large dependency for four simple charts, and Casino's runtime dependencies are
kept few. A chart here is rectangles, polylines and 5×7 bitmap text on a numpy RGB array, written as an
8-bit truecolour PNG (one IDAT chunk, filter type 0 on every row). No anti-aliasing: lines are stamped as
squares of their width along the segment.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import numpy.typing as npt

from core.report.font import GLYPH_H, GLYPH_W, glyph, text_width

__all__ = ["TEXT_H", "Canvas", "Color", "encode_png"]

TEXT_H = GLYPH_H  # height of a line of text at scale 1, for layout

Color = tuple[int, int, int]
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(pixels: npt.NDArray[np.uint8]) -> bytes:
    """An ``(height, width, 3)`` uint8 RGB array as PNG bytes."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an (h, w, 3) uint8 array, got {pixels.shape} {pixels.dtype}")
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # column 0: filter type 0 ("None")
    rows[:, 1:] = pixels.reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)),
            _chunk(b"IEND", b""),
        )
    )


class Canvas:
    """An RGB image to draw on; coordinates are pixels, origin top-left, x right, y down."""

    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"canvas must be at least 1×1, got {width}×{height}")
        self.width = width
        self.height = height
        self.pixels: npt.NDArray[np.uint8] = np.empty((height, width, 3), dtype=np.uint8)
        self.pixels[:, :] = background

    def fill_rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill the rectangle between the corners (inclusive, in any order, clipped to the canvas)."""
        left, right = sorted((x0, x1))
        top, bottom = sorted((y0, y1))
        left, top = max(left, 0), max(top, 0)
        right, bottom = min(right, self.width - 1), min(bottom, self.height - 1)
        if left <= right and top <= bottom:
            self.pixels[top : bottom + 1, left : right + 1] = color

    def line(self, x0: float, y0: float, x1: float, y1: float, color: Color, *, width: int = 1) -> None:
        """A straight segment of ``width`` pixels."""
        self.polyline([(x0, y0), (x1, y1)], color, width=width)

    def polyline(self, points: list[tuple[float, float]], color: Color, *, width: int = 1) -> None:
        """Connected segments through ``points`` (a single point is drawn as a dot).

        Every segment is sampled at one point per pixel of its longer side, all segments at once (a long
        equity curve is one numpy pass, not a Python loop).
        """
        if not points:
            return
        pts = np.asarray(points, dtype=np.float64)
        if len(pts) == 1:
            xs, ys = pts[:, 0], pts[:, 1]
        else:
            start, end = pts[:-1], pts[1:]
            steps = np.abs(end - start).max(axis=1).astype(np.int64) + 1
            segment = np.repeat(np.arange(len(start)), steps)
            offset = np.arange(int(steps.sum())) - np.repeat(np.cumsum(steps) - steps, steps)
            t = (offset / steps[segment])[:, None]
            sampled = start[segment] + (end[segment] - start[segment]) * t
            xs = np.append(sampled[:, 0], pts[-1, 0])
            ys = np.append(sampled[:, 1], pts[-1, 1])
        self._dots(np.rint(xs).astype(np.int64), np.rint(ys).astype(np.int64), color, width)

    def _dots(self, xs: npt.NDArray[np.int64], ys: npt.NDArray[np.int64], color: Color, width: int) -> None:
        """A ``width`` × ``width`` square at each (x, y), clipped to the canvas."""
        lo = -(width // 2)
        for dx in range(lo, lo + width):
            for dy in range(lo, lo + width):
                px, py = xs + dx, ys + dy
                keep = (px >= 0) & (px < self.width) & (py >= 0) & (py < self.height)
                self.pixels[py[keep], px[keep]] = color

    def fill_to(self, points: list[tuple[float, float]], base_y: float, color: Color) -> None:
        """Shade, column by column, between the polyline through ``points`` (x ascending) and ``base_y``."""
        if len(points) < 2:
            return
        xs = np.array([p[0] for p in points], dtype=np.float64)
        ys = np.array([p[1] for p in points], dtype=np.float64)
        base = round(base_y)
        for col in range(max(0, math.ceil(xs[0])), min(self.width - 1, math.floor(xs[-1])) + 1):
            y = round(float(np.interp(col, xs, ys)))
            top, bottom = sorted((y, base))
            top, bottom = max(top, 0), min(bottom, self.height - 1)
            if top <= bottom:
                self.pixels[top : bottom + 1, col] = color

    def text(self, x: int, y: int, text: str, color: Color, scale: int = 1) -> None:
        """``text`` with its top-left corner at ``(x, y)``, in the 5×7 font enlarged ``scale`` times."""
        for i, ch in enumerate(text):
            mask = glyph(ch)
            if scale > 1:
                mask = np.kron(mask, np.ones((scale, scale), dtype=np.bool_)).astype(np.bool_)
            gx = x + i * (GLYPH_W + 1) * scale
            self._stamp(gx, y, mask, color)

    def text_right(self, right: int, y: int, text: str, color: Color, scale: int = 1) -> None:
        """``text`` ending at column ``right``."""
        self.text(right - text_width(text, scale), y, text, color, scale)

    def text_center(self, center: int, y: int, text: str, color: Color, scale: int = 1) -> None:
        """``text`` centred on column ``center``."""
        self.text(center - text_width(text, scale) // 2, y, text, color, scale)

    def _stamp(self, x: int, y: int, mask: npt.NDArray[np.bool_], color: Color) -> None:
        h, w = mask.shape
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        sub = mask[y0 - y : y1 - y, x0 - x : x1 - x]
        region = self.pixels[y0:y1, x0:x1]
        region[sub] = color

    def png(self) -> bytes:
        """The canvas as PNG bytes."""
        return encode_png(self.pixels)
