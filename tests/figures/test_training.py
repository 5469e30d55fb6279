"""The Train page's figures (figures/training.py)."""

import pytest

from figures import curve_steps, label_smoothing_bars, learning_rate_curve, live_curves
from figures.style import BLUE, PALE_BLUE
from transformer.objective import learning_rate


def test_learning_rate_curve_draws_the_schedule_it_is_given_and_marks_the_warm_up():
    steps = curve_steps(800)
    assert steps[0] == 1 and steps[-1] <= 800 and len(steps) == 400
    rates = [learning_rate(step, 64, 100, 0.5) for step in steps]
    figure = learning_rate_curve(steps, rates, warmup=100)
    [line] = figure.data
    assert list(line.x) == steps and list(line.y) == rates
    peak = line.x[max(range(len(line.y)), key=line.y.__getitem__)]
    assert abs(peak - 100) <= 2  # the trainer's rate peaks where the warm-up ends
    assert [shape.x0 for shape in figure.layout.shapes] == [100]
    # A warm-up longer than the run is not marked beyond the curve.
    assert not learning_rate_curve(steps, rates, warmup=1000).layout.shapes


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.4])
def test_label_smoothing_bars_draw_the_target_they_are_given(smoothing):
    probabilities = [smoothing / 10 + (1 - smoothing) * (i == 4) for i in range(10)]
    figure = label_smoothing_bars([f"t{i}" for i in range(10)], 4, smoothing, probabilities)
    [bars] = figure.data
    assert list(bars.y) == probabilities
    assert list(bars.marker.color) == [BLUE if i == 4 else PALE_BLUE for i in range(10)]
    assert "'t4'" in figure.layout.title.text and f"ε = {smoothing:g}" in figure.layout.title.text
    with pytest.raises(ValueError):
        label_smoothing_bars(["a", "b"], 0, smoothing, probabilities)


def test_live_curves_show_losses_and_exact_match():
    figure = live_curves([(10, 2.0), (20, 1.5)], [(20, 1.2, 40.0)], steps=100)
    names = [trace.name for trace in figure.data]
    assert names == ["training loss (label-smoothed)", "dev loss", "dev exact match"]
    assert list(figure.data[2].y) == [40.0] and list(figure.layout.xaxis.range) == [0, 100]
    assert len(live_curves([], [], steps=10).data) == 0  # before the first log row
