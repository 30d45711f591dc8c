"""The test helpers read a worker's JSON log the way it is written: stdout and stderr in one file."""

from tests.e2e.worker import log_events

LOG = "\n".join(
    [
        '{"jobs": 1, "items": 6, "event": "engine_batch", "level": "debug"}INFO   | job-e29c | Started.',
        "INFO   | job-e29c | Finished.",
        '{"event": "job_done", "text_chars": 12}',
        'INFO   | job-f00d | Finished running generator.{"event": "job_done", "text_chars": 30}',
        '{"event": "engine_batch", "items": 2}',
        '{"event": "engine_bat',  # cut off by the process's end
    ]
)


def test_an_object_with_runpods_text_after_it_still_counts():
    assert [e["items"] for e in log_events(LOG, "engine_batch")] == [6, 2]


def test_all_events_or_those_after_a_line():
    assert [e["event"] for e in log_events(LOG)] == ["engine_batch", "job_done", "job_done", "engine_batch"]
    assert [e["event"] for e in log_events(LOG, since=4)] == ["engine_batch"]


def test_an_object_right_after_runpods_text_on_its_line_counts():
    assert [e["text_chars"] for e in log_events(LOG, "job_done")] == [12, 30]
