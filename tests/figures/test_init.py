"""The figures package as the app imports it: without torch."""

import subprocess
import sys

from tests.helpers import ROOT


def test_the_figures_do_not_load_torch():
    # The app's pages import figures before any model exists; torch would only slow that down.
    code = "import sys, figures; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
