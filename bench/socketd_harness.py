"""Shared by the python scripts in bench/ (udp-rate, startup, reload-under-load,
neighbours, upload-throughput, floor-ratio, reuse-port, compare): run the socketd
binary as systemd would (a NOTIFY_SOCKET this process owns), run and stop the
servers they measure by PID, on loopback ports picked free, and read the
kernel's view of those processes and their sockets.

Not a test fixture: no assertions, only measurements and clear errors.
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def monotonic_us():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def binary(build_dir, relative):
    path = os.path.join(build_dir, relative)
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} not found: build it first (cmake --build {build_dir} --target "
                 f"{os.path.basename(relative)}) or pass --build-dir")
    return path


def port_is_free(port, kinds=(socket.SOCK_STREAM, socket.SOCK_DGRAM)):
    """True if 127.0.0.1:port can be bound right now with each socket type in `kinds`."""
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port(kind=socket.SOCK_STREAM):
    """A port free for both TCP and UDP on 127.0.0.1 right now (the daemon binds it next)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        if port_is_free(port, (other,)):
            return port


def unused_low_port(taken, low=20000, high=29999, tries=1000):
    """A random port in [low, high], below the ephemeral range (so no client connection of the
    load tool holds it), free for TCP and UDP and not in `taken`, which it is added to: a port
    a stopped server has just freed is not handed out again. None if `tries` found none."""
    for _ in range(tries):
        port = random.randint(low, high)
        if port not in taken and port_is_free(port):
            taken.add(port)
            return port
    return None


def wait_listening(port, timeout=5.0):
    """True once a TCP connect to 127.0.0.1:port succeeds, False after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def cpu_seconds(pid):
    """utime+stime of process `pid` (all its threads) so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """`sig` to the process by its PID, SIGKILL if it has not exited after `timeout` s; reaped."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """A server process run through `taskset -c CPU` (cpu None: not pinned), stdin closed;
    `popen` goes to subprocess.Popen (stdout, stderr, cwd, ...). stop() ends it by its PID."""

    def __init__(self, argv, cpu=None, **popen):
        self.cmd = (["taskset", "-c", str(cpu)] if cpu is not None else []) + [str(a) for a in argv]
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, **popen)
        self.pid = self.proc.pid  # taskset execs the server: the same PID

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15.0):
        stop_process(self.proc, timeout=timeout)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(p / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same


class NotifySocket:
    """The receiving end of sd_notify: an AF_UNIX datagram socket in `directory`.
    Each message is returned with the CLOCK_MONOTONIC time (us) the kernel
    queued it (SO_TIMESTAMPNS, converted from CLOCK_REALTIME), so how late this
    script gets to read it does not count."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(self.path)

    def _receive(self):
        data, ancillary, _, _ = self.sock.recvmsg(65536, 256)
        received = monotonic_us()
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                sec = int.from_bytes(payload[0:8], "little", signed=True)
                nsec = int.from_bytes(payload[8:16], "little", signed=True)
                offset = time.clock_gettime_ns(time.CLOCK_REALTIME) // 1000 - monotonic_us()
                received = min(received, (sec * 1_000_000_000 + nsec) // 1000 - offset)
        return data, received

    def close(self):
        self.sock.close()

    def wait_for(self, line, timeout=10.0):
        """(message, receive_us) of the first message holding `line`, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, received = self._receive()
            except socket.timeout:
                return None
            message = data.decode(errors="replace")
            if line in message.split("\n"):
                return message, received
            if line.endswith("=") and any(l.startswith(line) for l in message.split("\n")):
                return message, received


class Daemon:
    """One socketd process: `config_text` in a temporary directory, started on
    `cpu` (None: not pinned), stderr kept in a file."""

    def __init__(self, socketd, config_text, cpu=None):
        self.dir = tempfile.mkdtemp(prefix="socketd-bench-")
        self.config = os.path.join(self.dir, "socketd.toml")
        self.write_config(config_text)
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.notify = NotifySocket(self.dir)
        self.socketd = socketd
        self.cpu = cpu
        self.proc = None
        self.exec_us = None

    def write_config(self, text):
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config)

    def start(self, wait_ready=True):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        env.pop("JOURNAL_STREAM", None)
        env.pop("LISTEN_FDS", None)
        argv = [self.socketd, "--config", self.config]
        pin = (lambda: os.sched_setaffinity(0, {self.cpu})) if self.cpu is not None else None
        with open(self.stderr_path, "wb") as err:
            # exec_us is taken just before fork+exec; the fork itself is part of what we time.
            self.exec_us = monotonic_us()
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=pin, cwd=self.dir)
        if wait_ready:
            got = self.notify.wait_for("READY=1")
            if got is None:
                self.stop()
                sys.exit(f"socketd did not report READY=1 within 10 s:\n{self.stderr()}")
            return got[1]
        return None

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cpu_seconds(self):
        return cpu_seconds(self.proc.pid)

    def cpu_ns(self):
        """CPU time this process has run so far, in ns (/proc/PID/schedstat: exact,
        and unlike wall time not stretched by other processes on the CPU)."""
        with open(f"/proc/{self.proc.pid}/schedstat") as f:
            return int(f.read().split()[0])

    def run_delay_ns(self):
        """Time this process was runnable but waited for a CPU, in ns (schedstat)."""
        with open(f"/proc/{self.proc.pid}/schedstat") as f:
            return int(f.read().split()[1])

    def stop(self, timeout=15.0, want_status=False):
        """SIGTERM; with want_status, the last STATUS= it sent while stopping (or None)."""
        status = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if want_status and self.notify.wait_for("STOPPING=1", timeout=5) is not None:
                status = self.notify.wait_for("STATUS=", timeout=5)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        return status[0] if status else None

    def cleanup(self):
        self.stop()
        self.notify.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def udp_socket_counters(port):
    """(rx_queue bytes, drops) of the UDP socket bound to 127.0.0.1:port, from /proc/net/udp."""
    want = "0100007F:%04X" % port
    with open("/proc/net/udp") as f:
        next(f)
        for row in f:
            cols = row.split()
            if cols[1] == want:
                rx_queue = int(cols[4].split(":")[1], 16)
                return rx_queue, int(cols[12])
    return None
