"""figures/style.py: the one home of the figures' colours, colour scales and margins."""

import re

from tests.helpers import ROOT


def test_colours_scales_and_margins_are_typed_only_in_style():
    # One home: a colour, scale or margin typed in a figure module would drift from the rest.
    typed = re.compile(r"#[0-9a-fA-F]{3,6}\b|rgba?\(|margin=dict\(|\"(RdBu|Blues|Viridis|RdYlBu)")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((ROOT / "figures").glob("*.py"))
        if path.name != "style.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if typed.search(line)
    ]
    assert found == []


# Machado, Oliveira & Fernandes (2009): deuteranopia (severity 1) on linear RGB.
DEUTERANOPIA = [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]


def _linear(color: str) -> list[float]:
    channels = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


def _lab(linear: list[float]) -> tuple[float, float, float]:
    """CIELAB (D65) of a linear RGB colour."""
    r, g, b = (min(max(c, 0.0), 1.0) for c in linear)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def deuteranope_difference(first: str, second: str) -> float:
    """CIE76 ΔE between two colours as a deuteranope sees them."""
    seen = [
        _lab([sum(m * c for m, c in zip(row, _linear(color))) for row in DEUTERANOPIA]) for color in (first, second)
    ]
    return sum((a - b) ** 2 for a, b in zip(*seen)) ** 0.5


def test_no_two_head_colours_look_alike_to_a_deuteranope():
    from figures.style import GREEN, HEAD_COLORS, RED

    assert deuteranope_difference(RED, GREEN) < 15  # the test sees D3's red/green pair the old palette had
    pairs = [(a, b) for i, a in enumerate(HEAD_COLORS) for b in HEAD_COLORS[i + 1 :]]
    assert len(HEAD_COLORS) >= 8 and min(deuteranope_difference(a, b) for a, b in pairs) >= 15


def test_tick_labels_are_readable_on_the_page():
    from figures.legibility import contrast_ratio
    from figures.style import BACKGROUND, TICK_COLOR

    assert contrast_ratio("#808495", BACKGROUND) < 4.5  # Streamlit's theme grey, as measured in Chromium
    assert contrast_ratio(TICK_COLOR, BACKGROUND) >= 4.5
    assert contrast_ratio("#000000", "#ffffff") == 21
