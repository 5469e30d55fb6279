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
