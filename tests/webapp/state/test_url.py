"""webapp/state/url.py: links read into widgets, numbers and texts bounded, and the notices for what a
link gets wrong."""

import pytest

from tests.webapp.apptest import CHARTS, DECODING, MASKS, chart_keys, open_page, texts
from webapp.state.url import MAX_URL_DIGITS, parse_number, url_number, url_value

pytestmark = pytest.mark.usefixtures("checkpoints")


@pytest.mark.parametrize(
    "page, params, notice",
    [
        (MASKS, {"batch": "a b c\nx", "sentence": "9" * 5000}, "sentence is not between 1 and 2"),
        (MASKS, {"batch": "a b c\nx", "layer": "9" * 5000}, "layer is not between 1 and 2"),
        (DECODING, {"text": "a b c", "step": "9" * 5000}, "step is not between 1 and 4"),
    ],
)
def test_a_number_of_thousands_of_digits_in_the_link_falls_back_with_a_notice(page, params, notice):
    app = open_page(page, params)  # int() refuses more than 4,300 digits: the page used to stop there
    assert any(notice in message for message in texts(app.warning)), texts(app.warning)
    assert CHARTS[page] <= chart_keys(app)


@pytest.mark.parametrize(
    "page, params, notice",
    [
        (MASKS, {"batch": "a b\n" * 1000}, "batch was cut to 2000 characters"),
        (MASKS, {"targets": "b a\n" * 1000}, "targets was cut to 2000 characters"),
        (DECODING, {"text": "a b", "prefix": "b " * 300}, "prefix was cut to 500 characters"),
    ],
)
def test_a_link_longer_than_its_field_is_cut_with_a_notice(page, params, notice):
    app = open_page(page, params)
    assert any(notice in message for message in texts(app.warning)), texts(app.warning)


def test_a_url_number_is_a_short_run_of_ascii_digits():
    assert url_number("0") == 0 and url_number("42") == 42
    assert url_number("9" * MAX_URL_DIGITS) == int("9" * MAX_URL_DIGITS)
    for value in ("9" * (MAX_URL_DIGITS + 1), "", "-1", "+1", "1.0", " 1", "٢", "two"):
        assert url_number(value) is None, value


def test_a_number_in_the_url_counts_from_one_and_url_value_writes_it_back():
    assert [parse_number(value, 3) for value in ("1", "3", "0", "4", "x")] == [0, 2, None, None, None]
    assert url_value(0) == "1" and url_value(11) == "12"
    assert url_value("avg") == "avg" and url_value(None) is None
    for index in range(5):  # a round trip for every index below the count
        assert parse_number(url_value(index), 5) == index
