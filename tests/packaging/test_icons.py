"""The .icns for the macOS bundle is written from resources/icon.png by Pillow (works on Linux too)."""

from __future__ import annotations

from PIL import Image

from tests.packaging.conftest import ROOT, load_packaging_module


def test_icns_from_the_resources_png_holds_every_size_macos_asks_for(tmp_path):
    make_icons = load_packaging_module("make_icons")
    png = ROOT / "resources" / "icon.png"
    before = png.read_bytes()
    icns = make_icons.write_icns(png, tmp_path / "LTX-MLX.icns")
    assert icns.read_bytes()[:4] == b"icns"
    with Image.open(icns) as image:
        assert image.format == "ICNS"
        # (edge, edge, scale): Pillow writes ic07-ic14, i.e. 128-512 px at 1x and 16-512 px at 2x.
        wanted = {
            (16, 16, 2),
            (32, 32, 2),
            (128, 128, 1),
            (128, 128, 2),
            (256, 256, 1),
            (256, 256, 2),
            (512, 512, 1),
            (512, 512, 2),
        }
        assert wanted <= set(image.info["sizes"]), sorted(image.info["sizes"])
        image.load()  # the largest entry: 512@2x, scaled up from the 512 px PNG
        assert image.size == (1024, 1024) and image.mode == "RGBA"
    assert png.read_bytes() == before, "making the .icns must not rewrite the tracked PNG"


def test_icon_script_writes_icns_without_redrawing_an_existing_png(tmp_path):
    make_icons = load_packaging_module("make_icons")
    png = tmp_path / "icon.png"
    Image.new("RGBA", (64, 64), (200, 40, 40, 255)).save(png)
    make_icons.main(["--png", str(png), "--icns", str(tmp_path / "out.icns")])
    with Image.open(png) as kept:
        assert kept.size == (64, 64)
    with Image.open(tmp_path / "out.icns") as icns:
        icns.load()
        assert icns.getpixel((icns.width // 2, icns.height // 2))[:3] == (200, 40, 40)
    make_icons.main(["--png", str(tmp_path / "drawn.png"), "--draw"])
    with Image.open(tmp_path / "drawn.png") as drawn:
        assert drawn.size == (512, 512) and drawn.mode == "RGBA"
