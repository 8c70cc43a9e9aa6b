"""Draw the app icon and write resources/icon.png and an .icns for the macOS bundle.

The icon is drawn, not downloaded: a rounded square with a film strip and a
play triangle. Pillow writes .icns directly (all the sizes macOS asks for).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024


def draw_icon(size: int = SIZE) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = size // 16
    radius = size // 5
    box = (margin, margin, size - margin, size - margin)
    # Vertical gradient background, dark indigo to violet.
    gradient = Image.new("RGBA", (size, size))
    gdraw = ImageDraw.Draw(gradient)
    for y in range(size):
        t = y / (size - 1)
        colour = (int(40 + 90 * t), int(30 + 20 * t), int(110 + 80 * t), 255)
        gdraw.line([(0, y), (size, y)], fill=colour)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle(box, radius=radius, fill=255)
    image.paste(gradient, (0, 0), mask)
    # Film-strip perforations along top and bottom.
    hole = size // 18
    for row_y in (margin + hole, size - margin - 2 * hole):
        for i in range(7):
            x = margin + radius // 2 + i * (size - 2 * margin - radius) // 6 - hole // 2
            draw.rounded_rectangle((x, row_y, x + hole, row_y + hole), radius=hole // 4,
                                   fill=(255, 255, 255, 200))
    # Play triangle.
    cx, cy, r = size // 2, size // 2, size // 5
    draw.polygon([(cx - r * 0.7, cy - r), (cx - r * 0.7, cy + r), (cx + r, cy)],
                 fill=(255, 255, 255, 240))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", type=Path, default=Path("resources/icon.png"))
    parser.add_argument("--icns", type=Path, help="also write a macOS .icns here")
    args = parser.parse_args()
    icon = draw_icon()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    icon.resize((512, 512), Image.LANCZOS).save(args.png)
    if args.icns:
        args.icns.parent.mkdir(parents=True, exist_ok=True)
        icon.save(args.icns, format="ICNS")


if __name__ == "__main__":
    main()
