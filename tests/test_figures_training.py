"""The Train page's figures (figures/training.py)."""

import pytest

from figures import label_smoothing_bars, learning_rate_curve, live_curves, smoothed_target
from transformer.objective import learning_rate


def test_learning_rate_curve_is_the_trainers_schedule():
    figure = learning_rate_curve(800, 64, 100, 0.5)
    [line] = figure.data
    assert list(line.y) == [learning_rate(step, 64, 100, 0.5) for step in line.x]
    assert line.x[0] == 1 and line.x[-1] <= 800
    peak = line.x[max(range(len(line.y)), key=line.y.__getitem__)]
    assert abs(peak - 100) <= 2  # the rate peaks where the warm-up ends
    assert any("warm-up" in (annotation.text or "") for annotation in figure.layout.annotations)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.4])
def test_label_smoothed_target_is_a_distribution(smoothing):
    target = smoothed_target(10, 4, smoothing)
    assert sum(target) == pytest.approx(1)
    assert target[4] == pytest.approx(1 - smoothing + smoothing / 10)
    assert all(p == pytest.approx(smoothing / 10) for i, p in enumerate(target) if i != 4)
    figure = label_smoothing_bars([f"t{i}" for i in range(10)], 4, smoothing)
    assert list(figure.data[0].y) == target and "'t4'" in figure.layout.title.text


def test_live_curves_show_losses_and_exact_match():
    figure = live_curves([(10, 2.0), (20, 1.5)], [(20, 1.2, 40.0)], steps=100)
    names = [trace.name for trace in figure.data]
    assert names == ["training loss (label-smoothed)", "dev loss", "dev exact match"]
    assert list(figure.data[2].y) == [40.0] and list(figure.layout.xaxis.range) == [0, 100]
    assert len(live_curves([], [], steps=10).data) == 0  # before the first log row
