"""`parley serve` at start (API.md §10.1): what to do next on stderr (README, "Two commands"), and
the data folder lock that keeps a server from starting during a `parley restore`."""
import fcntl
import os

from support.server import free_port


def test_serve_prints_the_address_the_data_and_how_to_stop(fresh_server):
    srv = fresh_server()
    log = srv.log_text()
    assert f"Parley is serving on http://127.0.0.1:{srv.port}/" in log, log
    assert f"data: {srv.data_dir} (SQLite database, uploads)" in log or \
        f"data: {srv.data_dir} (uploads; the database is in PostgreSQL)" in log, log
    assert "stop: Ctrl-C or SIGTERM" in log, log


def test_serve_refuses_to_start_while_a_restore_holds_the_lock(fresh_server):
    srv = fresh_server(start=False)
    fd = os.open(srv.data_dir / "parley.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what `parley restore` holds while it writes
        proc = srv.cli("serve", "--port", str(free_port()), timeout=30)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "a restore is in progress" in proc.stderr, proc.stderr
    finally:
        os.close(fd)
    srv.start()  # the lock released, the server starts
