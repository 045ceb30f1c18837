"""The Torc worker's reporting falls back to one complete_job per job on a server without
batch_complete_jobs (Torc before 0.35), and remembers it."""

from apps.workers.http import ApiError
from apps.workers.torc_worker import TorcWorker


class OldServer:
    """Answers like a Torc server that has no batch endpoint; records what it was sent."""

    def __init__(self):
        self.headers, self.calls = {}, []

    def post(self, path, body):
        self.calls.append(path)
        if path.endswith("/batch_complete_jobs"):
            raise ApiError(404, '{"error": "not found"}', "POST", path)
        return {"id": body["job_id"], "status": body["status"]}


def done(job_id):
    return (job_id, "completed", {"job_id": job_id, "status": "completed", "return_code": 0})


def test_falls_back_to_complete_job_and_remembers():
    server = OldServer()
    worker = TorcWorker(server, 7, cpus=2, memory_bytes=0)
    worker._report([done(1), done(2)])
    worker._report([done(3)])
    assert server.calls == ["/workflows/7/batch_complete_jobs", "/jobs/1/complete_job/completed/0",
                            "/jobs/2/complete_job/completed/0", "/jobs/3/complete_job/completed/0"]
    assert worker.batch_complete is False
