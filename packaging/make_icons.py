"""The app icon: draw resources/icon.png, and write the macOS .icns from it.

    python packaging/make_icons.py --icns build/LTX-MLX.icns      # .icns from resources/icon.png
    python packaging/make_icons.py --draw                          # (re)draw resources/icon.png

The icon is drawn, not downloaded: a rounded square with a film strip and a
play triangle. Pillow writes .icns directly, on any platform (all the sizes
macOS asks for, 16-1024 px, scaled from the PNG).
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
            draw.rounded_rectangle((x, row_y, x + hole, row_y + hole), radius=hole // 4, fill=(255, 255, 255, 200))
    # Play triangle.
    cx, cy, r = size // 2, size // 2, size // 5
    draw.polygon([(cx - r * 0.7, cy - r), (cx - r * 0.7, cy + r), (cx + r, cy)], fill=(255, 255, 255, 240))
    return image


ICNS_SIZE = 1024  # the largest .icns entry (ic10, 512@2x)


def write_icns(png: Path, icns: Path) -> Path:
    """Write `icns` from a square PNG (scaled up to 1024 px if smaller, so every size is present)."""
    image = Image.open(png).convert("RGBA")
    if image.width != image.height:
        raise ValueError(f"{png} is {image.width}x{image.height}; an app icon must be square")
    if image.width < ICNS_SIZE:
        image = image.resize((ICNS_SIZE, ICNS_SIZE), Image.LANCZOS)
    icns.parent.mkdir(parents=True, exist_ok=True)
    image.save(icns, format="ICNS")
    return icns


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--png", type=Path, default=Path("resources/icon.png"), help="the app icon PNG")
    parser.add_argument("--draw", action="store_true", help="draw the icon and write --png (512 px)")
    parser.add_argument("--icns", type=Path, help="write a macOS .icns here from --png")
    args = parser.parse_args(argv)
    if args.draw or not args.png.is_file():
        args.png.parent.mkdir(parents=True, exist_ok=True)
        draw_icon().resize((512, 512), Image.LANCZOS).save(args.png)
    if args.icns:
        write_icns(args.png, args.icns)


if __name__ == "__main__":
    main()
