"""Worker processes that share the load: each accepts on a socket of its own.

With one listening socket shared by every worker, whichever worker's event loop wakes first
accepts most of a burst of new connections, and a client's keep-alive connections stay where
they landed: measured with wrk (16 connections, two workers), all 16 went to one worker in
two runs of three, and one core served while the other idled, at half the rate. Each worker
here listens on its own SO_REUSEPORT socket on the same port, and the kernel spreads new
connections over the sockets by their address.

The supervision (health checks, restarts, signals) is uvicorn's ``Multiprocess``; only the
socket each process is given differs.
"""

from __future__ import annotations

from socket import socket

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger


class BalancedWorkers(Multiprocess):
    """``Multiprocess`` with one socket per worker: ``sockets[i]`` is worker i's."""

    def __init__(self, config: Config, sockets: list[socket]) -> None:
        super().__init__(config, sockets=[])
        self.own = sockets
        self.processes_num = len(sockets)

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.own[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(index) for index in range(self.processes_num)]

    def restart_all(self) -> None:
        """Replace each worker, its replacement serving before the old one is retired."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error(f"Child process [{process.pid}] failed to start, stopping.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            self.processes[index] = self._start(index)
