"""One reader of the JSON documents the stages write (``microinv.data.chunks.read_json``):
one-line errors naming the file, for samples chunks and the campaign answer alike."""

from __future__ import annotations

import json

import pytest

from microinv.data.chunks import read_json, read_samples
from microinv.errors import InputError
from microinv.figures.answer import surrogate_answer


@pytest.mark.parametrize("text, message", [
    (None, "cannot read metrics (No such file or directory)"),
    ("{not json", "corrupt metrics (invalid JSON:"),
    ("[1, 2]", "expected a JSON object (metrics), got list"),
    ('{"format": "other/1"}', "format: expected 'microinv.surrogate-metrics/1'"),
])
def test_read_json_names_the_file_in_one_line(tmp_path, text, message):
    path = tmp_path / "metrics.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError) as err:
        read_json(path, "metrics", "microinv.surrogate-metrics/1")
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_samples_chunks_and_the_answer_share_it(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for reader, what in ((read_samples, "samples chunk"), (surrogate_answer, "surrogate metrics")):
        with pytest.raises(InputError, match=f"broken.json: corrupt {what} \\(invalid JSON"):
            reader(broken)
    metrics = tmp_path / "metrics.json"
    test = {"mape": 0.05, "mape_x": 0.04, "mape_y": 0.05, "mape_z": 0.06}
    metrics.write_text(json.dumps({"format": "microinv.surrogate-metrics/1", "test": test,
                                   "structures": {"test": 3}, "epochs": 2}))
    assert surrogate_answer(str(metrics))["mape"] == pytest.approx(5.0)
