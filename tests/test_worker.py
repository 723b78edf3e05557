"""The worker process on its own, driven over its pipes as the director drives it."""

import subprocess
import sys

from stepup_trio import wire


def test_worker_stops_quietly_when_nobody_reads_its_results(tmp_path):
    """The director stopped reading (it died) while a step ran: the worker's result meets a
    broken pipe, and the worker ends as when the director is gone, without a traceback."""
    stderr = tmp_path / "worker.log"
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stepup_trio.worker"],
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    job = wire.RunJob(
        key="step:sleep 0.3",
        command="sleep 0.3",
        workdir="./",
        env={"STEPUP_STEP_KEY": "step:sleep 0.3", "HERE": ".", "ROOT": "."},
        inputs=[],
        outputs=[],
    )
    process.stdin.write(wire.encode(0, job))
    process.stdin.flush()
    process.stdout.close()
    try:
        assert process.wait(timeout=30) == 0
    finally:
        process.stdin.close()
    assert "Traceback" not in stderr.read_text()
