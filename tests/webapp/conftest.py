"""The app tests' fixture: a checkpoints folder holding a link to the shipped toy-reverse model alone,
which the app is pointed at (TRANSFORMER_CHECKPOINTS), so results do not depend on other checkpoints."""

import pytest

from tests.webapp.apptest import TOY
from webapp.state import checkpoints as app_checkpoints


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "toy-reverse").symlink_to(TOY, target_is_directory=True)
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(folder))
    return folder
