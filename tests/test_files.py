"""atomic_write: a reader sees the old file or the whole new one; a failed write leaves no trace."""

import pytest

from uwl_utils.files import atomic_write


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.json"
    with atomic_write(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".") and not path.exists()
        tmp.write_text("new")
    assert path.read_text() == "new" and sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
