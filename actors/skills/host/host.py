"""reachyd skill host: runs user skills outside the daemon.

reachyd starts this script with python3 and attaches it to its topic broker.
It speaks, as JSON lines, exactly the topic-bus protocol a pymirokai
SkillManager speaks over the topic WebSocket:

* stdout (host -> daemon), client frames, one JSON object per line:
  ``{"action": "subscribe"|"unsubscribe", "topic": T}`` and
  ``{"action": "publish", "topic": T, "data": {"name": T, "type": ..., "data": ...}}``.
* stdin (daemon -> host), server frames for the subscribed topics:
  ``{"name": T, "type": ..., "data": ..., ...extra keys}``; ``data`` may be a
  JSON string holding JSON (pymirokai double-encodes), it is decoded then.

The host subscribes ``RPC_command`` and ``skills_list_command``, publishes the
skills it finds on ``skills_list_result`` every ``--list-interval`` seconds and
on request (with a reachyd key, ``finishing``: the sync skills whose cancelled
run's thread still runs, which cannot start again until it returns), runs and
cancels skills on ``RPC_command`` (answering on ``RPC_result``), and reports
files that do not import on ``skill_manager_errors``.

Each file is imported in a thread of its own within ``--import-timeout``
seconds. A thread stuck in an import cannot be stopped, so a file that does
not import in time is reported, remembered in ``--state-dir`` (skipped until
it changes) and the host exits with status 3 for the daemon to start a new
one. A file during whose import the host died is skipped the same way.

Only the Python standard library is used: the robot may have no package index.
Everything on stderr is the host's log; the daemon logs it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import dataclasses
import enum
import hashlib
import importlib.util
import inspect
import json
import logging
import math
import os
import queue
import re
import signal
import sys
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

LOG = logging.getLogger("skillhost")

# Longest protocol line either way, newline excluded. The daemon drops longer
# stdout lines (the pymirokai client refuses WebSocket messages over 1 MiB), so
# the host replaces an oversized result with an error instead of losing it.
MAX_FRAME = 1 << 20
# Longest stdin line accepted; longer ones are skipped, not buffered whole.
MAX_INPUT_LINE = 8 << 20
# How long shutdown waits for cancelled skills to finish and report.
SHUTDOWN_GRACE = 3.0
# How long shutdown waits for the last frames to reach stdout.
FLUSH_TIMEOUT = 2.0
# JSON-RPC "internal error", the code the reference uses for every refusal.
RPC_ERROR = -32603
# Exit status of a host that stops because a skill file blocked at import:
# the daemon starts a new host, which skips that file until it changes.
EXIT_IMPORT_STUCK = 3
# In the state folder: the file being imported now (written before the
# import starts, removed after), and the files skipped until they change.
IMPORTING_NAME = "importing.json"
SKIPPED_NAME = "import-skipped.json"
# Nesting deeper than this is stringified rather than recursed into, so a
# self-referencing value cannot crash the serializer.
MAX_DEPTH = 64

# Topics of the pymirokai SkillManager protocol.
T_RPC_COMMAND = "RPC_command"
T_RPC_RESULT = "RPC_result"
T_LIST_COMMAND = "skills_list_command"
T_LIST_RESULT = "skills_list_result"
T_ERRORS = "skill_manager_errors"

COMPLETED, CANCELLED, ERROR = "COMPLETED", "CANCELLED", "ERROR"


# ---------------------------------------------------------------------------
# Threads


def run_in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
    """Run fn in a new daemon thread and return a future of its result.

    Unlike asyncio.to_thread this never queues behind a bounded pool (a sync
    skill that was cancelled keeps its thread until it returns, and would
    otherwise starve later runs) and never delays the host's exit: the thread
    is a daemon thread. Context variables are copied as to_thread does.
    """
    return thread_future(fn, args, kwargs)


def thread_future(
    fn: Callable[..., Any],
    args: Tuple[Any, ...],
    kwargs: Dict[str, Any],
    on_exit: Optional[Callable[[], None]] = None,
) -> "asyncio.Future[Any]":
    """run_in_thread, plus on_exit: called on the loop when the thread ends.

    Cancelling the future does not stop the thread (Python cannot interrupt
    one); on_exit tells when it is really over, cancelled or not.
    """
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    ctx = contextvars.copy_context()

    def deliver(ok: bool, value: Any) -> None:
        if on_exit is not None:
            try:
                on_exit()
            except Exception:  # noqa: BLE001 - the result must still be delivered
                LOG.exception("thread exit callback failed")
        if fut.done():  # cancelled meanwhile: nobody is waiting
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def work() -> None:
        try:
            value, ok = ctx.run(fn, *args, **kwargs), True
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            if not isinstance(exc, Exception):
                # SystemExit and KeyboardInterrupt must not unwind the loop.
                exc = Escaped(exc)
            value, ok = exc, False
        try:
            loop.call_soon_threadsafe(deliver, ok, value)
        except RuntimeError:
            pass  # the loop is closed: the host is exiting

    name = "skill-" + getattr(fn, "__name__", "call")
    threading.Thread(target=work, name=name, daemon=True).start()
    return fut


class Escaped(Exception):
    """Carries a SystemExit or KeyboardInterrupt a skill raised.

    Such exceptions must not unwind the host's event loop (a task re-raises
    them out of the loop), so they travel wrapped and are reported under
    their own name.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original

    def describe(self) -> str:
        """Name the original exception, not the wrapper."""
        return describe_exception(self.original)


def describe_exception(exc: BaseException) -> str:
    """Render an exception as the reference does: ``Type: text``."""
    if isinstance(exc, Escaped):
        return exc.describe()
    text = str(exc)
    return type(exc).__name__ + (": " + text if text else "")


# ---------------------------------------------------------------------------
# Serialization


def to_jsonable(value: Any, enum_names: bool = True, _depth: int = 0) -> Any:
    """Turn value into something json.dumps accepts, the way the reference does.

    JSON values pass as they are; containers are converted element by element;
    models (pydantic's model_dump, to_dict, dataclasses) become objects; enum
    members become ``"Cls.NAME"`` when enum_names (the skills list: the
    reference publishes ``AccessLevel.USER`` that way) and their value
    otherwise (results, as json.dumps(default=str) does); anything else
    becomes str(value). Non-finite floats become strings, since they are not
    JSON and Go's decoder refuses them.
    """
    if _depth > MAX_DEPTH:
        return safe_str(value)
    deeper = _depth + 1
    if isinstance(value, enum.Enum):
        if enum_names:
            return type(value).__name__ + "." + str(value.name)
        inner = value.value
        if isinstance(value, (int, str, float)) and isinstance(inner, (int, str, float)):
            return to_jsonable(inner, enum_names, deeper)
        return safe_str(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, StandIn):
        return str(value)  # it answers every attribute: no model_dump probing
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {key_str(k, enum_names): to_jsonable(v, enum_names, deeper) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=safe_str) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, enum_names, deeper) for v in items]
    for method in ("model_dump", "to_dict", "as_dict"):
        dump = getattr(value, method, None)
        if callable(dump) and not isinstance(value, type):
            try:
                return to_jsonable(dump(), enum_names, deeper)
            except Exception:  # noqa: BLE001 - fall back to str()
                break
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            return to_jsonable(dataclasses.asdict(value), enum_names, deeper)
        except Exception:  # noqa: BLE001 - fall back to str()
            pass
    return safe_str(value)


def key_str(key: Any, enum_names: bool) -> str:
    """Render a mapping key as a JSON object key."""
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum) and enum_names:
        return type(key).__name__ + "." + str(key.name)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)  # what json.dumps itself does with such keys
    return safe_str(key)


def safe_str(value: Any) -> str:
    """str(value), or a placeholder when even that fails."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not kill a frame
        return "<%s object>" % type(value).__name__


def dumps(obj: Any) -> str:
    """Compact JSON; ASCII-only so lone surrogates in skill output survive."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


# ---------------------------------------------------------------------------
# Robot proxy


class RobotError(Exception):
    """A call to the daemon's HTTP API failed.

    status is the HTTP status (0 when the daemon could not be reached) and
    body the response text, so a skill can tell a refused move (4xx) from an
    unavailable backend (503).
    """

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__("%s %s: HTTP %s: %s" % (method, path, status, body))
        self.method, self.path, self.status, self.body = method, path, status, body


class Robot:
    """The robot as skills see it: async calls to reachyd's HTTP API.

    Every call runs urllib in a thread so a skill awaiting the robot never
    blocks the host's event loop. Moves are started by the daemon and run
    there; by default the move methods wait until the move ends (polling
    GET /api/move/running) and, when the skill is cancelled meanwhile, stop
    the move (POST /api/move/stop) so that cancelling a skill stops the robot.
    Pass wait=False to return right after the daemon accepted the move.
    """

    #: Default API base URL; the host sets it from --api-url.
    default_api_url = "http://127.0.0.1:8000"
    #: Seconds between two polls of the running moves while waiting.
    poll_interval = 0.1

    def __init__(self, api_url: Optional[str] = None, timeout: float = 30.0) -> None:
        self.api_url = (api_url or Robot.default_api_url).rstrip("/")
        self.timeout = timeout
        # No proxies: the daemon is local, and a system-wide HTTP proxy
        # setting must not route robot commands elsewhere.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return "Robot(%r)" % self.api_url

    def __getattr__(self, name: str) -> Any:
        # Public Mirokai skills call robot.say(), robot.wave()...: say plainly
        # that reachyd's robot has no such capability.
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError("reachyd's Robot has no method %r" % name)

    async def request(self, method: str, path: str, body: Any = None, timeout: Optional[float] = None) -> Any:
        """Call the daemon's HTTP API and return the decoded JSON response.

        body, when not None, is sent as JSON. An empty response gives None, a
        non-JSON one its text. Raises RobotError on an HTTP error status or
        when the daemon cannot be reached.
        """
        return await run_in_thread(self._request_sync, method.upper(), path, body, timeout)

    def _request_sync(self, method: str, path: str, body: Any, timeout: Optional[float]) -> Any:
        """The blocking half of request, run in a thread."""
        if not path.startswith("/"):
            path = "/" + path
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = dumps(to_jsonable(body, enum_names=False)).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.api_url + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=timeout or self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            raise RobotError(method, path, exc.code, text) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RobotError(method, path, 0, "cannot reach the daemon: %s" % reason) from None
        text = raw.decode("utf-8", "replace")
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    async def _move(self, path: str, body: Any, wait: bool) -> Any:
        """Start a move and, if wait, wait for its end (stopping it on cancel)."""
        reply = await self.request("POST", path, body)
        uuid = reply.get("uuid") if isinstance(reply, dict) else None
        if wait and uuid:
            await self.wait_move(uuid)
        return reply

    async def wait_move(self, uuid: str) -> None:
        """Wait until the move uuid is no longer running.

        When the waiting skill is cancelled the move is stopped (best
        effort) before the cancellation goes on. A daemon without
        GET /api/move/running (404) is not waited for.
        """
        try:
            while True:
                try:
                    running = await self.request("GET", "/api/move/running")
                except RobotError as exc:
                    if exc.status == 404:
                        return
                    raise
                ids = {m.get("uuid") for m in running or [] if isinstance(m, dict)}
                if uuid not in ids:
                    return
                await asyncio.sleep(self.poll_interval)
        except asyncio.CancelledError:
            try:
                await asyncio.shield(self.request("POST", "/api/move/stop", {"uuid": uuid}, timeout=2.0))
            except BaseException:  # noqa: BLE001 - best effort; the cancel goes on
                pass
            raise

    async def wake_up(self, wait: bool = True) -> Any:
        """Play the wake-up sequence (POST /api/move/play/wake_up)."""
        return await self._move("/api/move/play/wake_up", None, wait)

    async def goto_sleep(self, wait: bool = True) -> Any:
        """Play the go-to-sleep sequence (POST /api/move/play/goto_sleep)."""
        return await self._move("/api/move/play/goto_sleep", None, wait)

    async def goto(
        self,
        head: Optional[Mapping[str, float]] = None,
        antennas: Any = None,
        body_yaw: Optional[float] = None,
        duration: float = 1.0,
        interpolation: Optional[str] = None,
        wait: bool = True,
    ) -> Any:
        """Move smoothly to a target (POST /api/move/goto).

        head is a pose dict with keys among x, y, z (meters) and roll, pitch,
        yaw (radians), missing keys being 0, or {"m": [16 floats]}.
        antennas is [right, left] in radians, the daemon's order, or a dict
        {"left": ..., "right": ...}. body_yaw is in radians. Absent fields
        keep their current value.
        """
        body: Dict[str, Any] = {"duration": float(duration)}
        if head is not None:
            if "m" in head:
                body["head_pose"] = {"m": [float(v) for v in head["m"]]}
            else:
                unknown = set(head) - {"x", "y", "z", "roll", "pitch", "yaw"}
                if unknown:
                    raise ValueError("unknown head pose keys: %s" % ", ".join(sorted(unknown)))
                body["head_pose"] = {k: float(head.get(k, 0.0)) for k in ("x", "y", "z", "roll", "pitch", "yaw")}
        if antennas is not None:
            if isinstance(antennas, Mapping):
                antennas = [antennas["right"], antennas["left"]]
            pair = [float(v) for v in antennas]
            if len(pair) != 2:
                raise ValueError("antennas needs 2 values, [right, left]")
            body["antennas"] = pair
        if body_yaw is not None:
            body["body_yaw"] = float(body_yaw)
        if interpolation is not None:
            body["interpolation"] = interpolation
        return await self._move("/api/move/goto", body, wait)

    async def set_antennas(self, left: float, right: float, duration: float = 0.5, wait: bool = True) -> Any:
        """Move both antennas (radians); sent in the daemon's [right, left] order."""
        return await self.goto(antennas=[right, left], duration=duration, wait=wait)

    async def state(self, **flags: bool) -> Any:
        """Read the full state (GET /api/state/full); flags are its query flags."""
        path = "/api/state/full"
        if flags:
            path += "?" + urllib.parse.urlencode({k: "true" if v else "false" for k, v in flags.items()})
        return await self.request("GET", path)


# ---------------------------------------------------------------------------
# pymirokai stand-ins


class AccessLevel(enum.IntEnum):
    """pymirokai's access levels; lower is more privileged."""

    ENCHANTER = 10
    ADMIN = 20
    USER = 30


class ParameterDescription:
    """Describes a skill parameter for voice and LLM triggering."""

    def __init__(self, name: str, description: str = "", **extra: Any) -> None:
        self.name = name
        self.description = description
        self.extra = extra

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form published in skill_info."""
        out = {"name": self.name, "description": self.description}
        out.update(self.extra)
        return out

    def __repr__(self) -> str:
        return "ParameterDescription(%r, %r)" % (self.name, self.description)


def skill(fn: Optional[Callable[..., Any]] = None, **info: Any) -> Any:
    """Mark a function as a skill, recording the keyword arguments in skill_info.

    Works as ``@skill``, ``@skill()`` and ``@skill(access_level=..., ...)``.
    """

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        f.skill_info = dict(info)  # type: ignore[attr-defined]
        return f

    if fn is not None and callable(fn):
        return mark(fn)
    return mark


class StandIn:
    """Placeholder for pymirokai names the host does not model (FaceAnim, Arm...).

    Attribute access and calls give further stand-ins named after the path,
    so ``FaceAnim.HAPPY`` imports, and serializes as ``"FaceAnim.HAPPY"``.
    """

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> "StandIn":
        if name.startswith("__"):
            raise AttributeError(name)
        return StandIn(self._path + "." + name)

    def __call__(self, *args: Any, **kwargs: Any) -> "StandIn":
        return self

    def __str__(self) -> str:
        return self._path

    __repr__ = __str__


def stand_in_getattr(module_name: str) -> Callable[[str], Any]:
    """A module __getattr__ giving stand-ins for unknown capitalized names."""

    def getattr_(name: str) -> Any:
        if name[:1].isupper():
            return StandIn(name)
        raise AttributeError("module %r has no attribute %r" % (module_name, name))

    return getattr_


def install_pymirokai_shim() -> str:
    """Make public Mirokai skill files importable without pymirokai.

    When pymirokai is not installed, minimal modules are registered:
    pymirokai.decorators.skill (skill, custom_skill, ParameterDescription),
    pymirokai.enums and pymirokai.enums.enums (AccessLevel and stand-ins),
    pymirokai.models.data_models (AccessLevel) and pymirokai.robot (Robot).
    When it is installed but lacks pymirokai.decorators (1.4.1), only that
    part is added. Returns what was done, for the log.
    """

    def module(name: str, package: bool = False, **attrs: Any) -> types.ModuleType:
        mod = types.ModuleType(name, "reachyd skill host stand-in for " + name)
        if package:
            mod.__path__ = []  # type: ignore[attr-defined]
        mod.__dict__.update(attrs)
        sys.modules[name] = mod
        return mod

    def decorators() -> None:
        deco = module("pymirokai.decorators", package=True)
        sk = module(
            "pymirokai.decorators.skill",
            skill=skill,
            custom_skill=skill,
            ParameterDescription=ParameterDescription,
            AccessLevel=AccessLevel,
        )
        deco.skill = sk  # type: ignore[attr-defined]

    try:
        found = importlib.util.find_spec("pymirokai") is not None
    except (ImportError, ValueError):
        found = False
    if found:
        try:
            importlib.import_module("pymirokai.decorators.skill")
            return "pymirokai is installed"
        except ImportError:
            pkg = importlib.import_module("pymirokai")
            decorators()
            pkg.decorators = sys.modules["pymirokai.decorators"]  # type: ignore[attr-defined]
            return "pymirokai is installed; added pymirokai.decorators"

    root = module("pymirokai", package=True, Robot=Robot, AccessLevel=AccessLevel)
    decorators()
    enums = module("pymirokai.enums", package=True, AccessLevel=AccessLevel)
    enums.__getattr__ = stand_in_getattr("pymirokai.enums")  # type: ignore[attr-defined]
    inner = module("pymirokai.enums.enums", AccessLevel=AccessLevel)
    inner.__getattr__ = stand_in_getattr("pymirokai.enums.enums")  # type: ignore[attr-defined]
    enums.enums = inner  # type: ignore[attr-defined]
    models = module("pymirokai.models", package=True)
    models.data_models = module("pymirokai.models.data_models", AccessLevel=AccessLevel)  # type: ignore[attr-defined]
    robot = module("pymirokai.robot", Robot=Robot, RobotError=RobotError)
    for name, mod in (
        ("decorators", sys.modules["pymirokai.decorators"]),
        ("enums", enums),
        ("models", models),
        ("robot", robot),
    ):
        setattr(root, name, mod)
    return "pymirokai stand-ins installed"


# ---------------------------------------------------------------------------
# Protocol I/O


class FrameWriter:
    """Writes protocol frames to the real stdout from a thread of its own.

    The event loop never blocks on a slow reader: send only queues. When the
    pipe breaks (the daemon is gone) on_broken is called once.
    """

    def __init__(self, fd: int, on_broken: Callable[[], None]) -> None:
        self._fd = fd
        self._queue: "queue.Queue[Optional[bytes]]" = queue.Queue()
        self._on_broken = on_broken
        self._broken = False
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)
        self._thread.start()

    def send(self, frame: Dict[str, Any]) -> int:
        """Queue one frame; returns its encoded size.

        A frame whose line would exceed MAX_FRAME is not sent (the daemon
        would drop it) and gives -1. After the pipe broke nothing is sent
        and 0 is returned.
        """
        line = self.encode(frame)
        if len(line) > MAX_FRAME:
            LOG.error("frame on %s too large (%d bytes), not sent", frame.get("topic"), len(line))
            return -1
        if self._broken:
            return 0  # the daemon is gone; the host is stopping
        self._queue.put(line + b"\n")
        return len(line)

    @staticmethod
    def encode(frame: Dict[str, Any]) -> bytes:
        """The frame's line, without its newline."""
        return dumps(frame).encode("ascii")

    def pending(self) -> int:
        """Frames queued and not yet written."""
        return self._queue.qsize()

    def close(self, timeout: float) -> None:
        """Write what is queued (waiting at most timeout), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            line = self._queue.get()
            if line is None:
                return
            if self._broken:
                continue
            try:
                view = memoryview(line)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
            except OSError as exc:
                self._broken = True
                LOG.error("protocol stdout closed: %s", exc)
                self._on_broken()


LineHandler = Callable[[bytes], None]


class LineReader:
    """Reads protocol lines from the real stdin in a thread of its own.

    Each line is handed to on_line on the event loop; EOF calls on_eof once.
    A line longer than MAX_INPUT_LINE is skipped without being held whole.
    """

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "rb", buffering=1 << 16)

    def start(self, loop: asyncio.AbstractEventLoop, on_line: LineHandler, on_eof: Callable[[], None]) -> None:
        """Start reading; callbacks run on loop."""
        args = (loop, on_line, on_eof)
        threading.Thread(target=self._run, args=args, name="frame-reader", daemon=True).start()

    def _run(self, loop: asyncio.AbstractEventLoop, on_line: LineHandler, on_eof: Callable[[], None]) -> None:
        try:
            while True:
                line = self._file.readline(MAX_INPUT_LINE + 1)
                if not line:
                    break
                if len(line) > MAX_INPUT_LINE and not line.endswith(b"\n"):
                    skipped = len(line)
                    while line and not line.endswith(b"\n"):
                        line = self._file.readline(1 << 20)
                        skipped += len(line)
                    LOG.warning("stdin line of %d bytes skipped (limit %d)", skipped, MAX_INPUT_LINE)
                    continue
                loop.call_soon_threadsafe(on_line, line)
        except RuntimeError:
            return  # the loop is closed
        except OSError as exc:
            LOG.error("protocol stdin failed: %s", exc)
        try:
            loop.call_soon_threadsafe(on_eof)
        except RuntimeError:
            pass


def claim_stdio() -> Tuple[int, int]:
    """Keep the real stdin/stdout for the protocol; give skills harmless ones.

    The protocol gets private duplicates (not inherited by subprocesses); fd 1
    then points at stderr and fd 0 at /dev/null, so a skill's print() lands in
    the log and its input() sees end of file instead of eating frames.
    """
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - nothing to flush
        pass
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return proto_in, proto_out


# ---------------------------------------------------------------------------
# Discovery


@dataclasses.dataclass
class SkillDef:
    """One skill: a module-level function with a skill_info attribute."""

    name: str
    fn: Callable[..., Any]
    rel: str
    signature: inspect.Signature
    entry: Dict[str, Any]

    @property
    def wants_robot(self) -> bool:
        """Whether the host injects the robot proxy."""
        return "robot" in self.signature.parameters


@dataclasses.dataclass
class FileState:
    """What the last import of one file gave."""

    rel: str
    sig: Tuple[int, ...]
    module_name: str
    skills: Dict[str, SkillDef]
    error: str  # "" when the file imported


def module_name_for(rel: str) -> str:
    """A module name unique to the relative path, readable in tracebacks."""
    stem = re.sub(r"\W", "_", rel[:-3] if rel.endswith(".py") else rel)
    digest = hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return "reachyd_skill_%s_%s" % (stem, digest)


def file_signature(st: os.stat_result) -> Tuple[int, ...]:
    """What identifies one version of a file: a rewrite changes one of these.

    The inode catches an atomic replace (write a temp file, rename) that
    keeps size and mtime; ctime catches an in-place rewrite within one mtime
    tick.
    """
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def import_error_text(rel: str, path: str, exc: BaseException) -> str:
    """``<rel>: <ErrorType>: <message> (line N)`` for a file that failed."""
    line: Optional[int] = None
    message = str(exc)
    if isinstance(exc, SyntaxError):
        message = exc.msg or message
        if exc.filename and os.path.abspath(exc.filename) == os.path.abspath(path):
            line = exc.lineno
    if line is None:
        tb = exc.__traceback__
        while tb is not None:
            if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
                line = tb.tb_lineno
            tb = tb.tb_next
    text = "%s: %s" % (rel, type(exc).__name__)
    if message:
        text += ": " + message
    if line is not None:
        text += " (line %d)" % line
    return text


def describe_parameters(sig: inspect.Signature) -> List[Dict[str, Any]]:
    """The reference's parameter entries, robot excluded.

    A missing default is the string "null" as the reference serializer
    sends it; "required" (a reachyd extension) says so unambiguously.
    Variadic parameters are not listed: they cannot be named in a call.
    """
    out = []
    for p in sig.parameters.values():
        if p.name == "robot" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is p.empty
        out.append(
            {
                "name": p.name,
                "default": "null" if required else to_jsonable(p.default),
                "annotation": "" if p.annotation is p.empty else safe_str(p.annotation),
                "questions": [],
                "required": required,
            }
        )
    return out


def load_file(root: str, rel: str, sig: Tuple[int, ...]) -> FileState:
    """Import one skill file as its own module and collect its skills.

    Runs in a worker thread. Any failure (syntax error, exception or
    sys.exit at import, missing module) becomes the file's error text.
    """
    path = os.path.join(root, rel)
    name = module_name_for(rel)
    skills: Dict[str, SkillDef] = {}
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError("cannot load %s" % rel)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses, pickle and typing look it up
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
    except BaseException as exc:  # noqa: BLE001 - any failure is reported
        return FileState(rel, sig, name, {}, import_error_text(rel, path, exc))
    for attr, obj in sorted(vars(module).items()):
        if not inspect.isfunction(obj) or not hasattr(obj, "skill_info"):
            continue
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError) as exc:
            LOG.warning("%s: %s: no usable signature: %s", rel, attr, exc)
            continue
        info = getattr(obj, "skill_info")
        if not isinstance(info, Mapping):
            LOG.warning("%s: %s.skill_info is a %s, not a dict: published as {}", rel, attr, type(info).__name__)
            info = {}
        entry = {
            "skill_info": to_jsonable(info),
            "parameters": describe_parameters(signature),
            "filename": rel,
            "doc": inspect.getdoc(obj) or "",
        }
        # The key is the attribute name, as the reference's getmembers gives.
        skills[attr] = SkillDef(attr, obj, rel, signature, entry)
    return FileState(rel, sig, name, skills, "")


def list_python_files(root: str) -> Dict[str, Tuple[int, ...]]:
    """Relative path -> signature of every *.py under root, recursively.

    Hidden files and folders and __pycache__ are skipped; a missing root
    gives nothing (the folder may be created later).
    """
    out: Dict[str, Tuple[int, ...]] = {}
    if not os.path.isdir(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for fname in filenames:
            if not fname.endswith(".py") or fname.startswith("."):
                continue
            full = os.path.join(dirpath, fname)
            try:
                st = os.stat(full)
            except OSError:
                continue  # removed meanwhile, or a dangling link
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out[rel] = file_signature(st)
    return out


class ImportGuard:
    """The skill files whose import hung or took the host down.

    Such files are skipped (reported with their error, never imported)
    until they change, across restarts of the host: a thread stuck in an
    import cannot be stopped, so the host that hit one exits and a new host
    starts without it.

    Before each import IMPORTING_NAME is written in the state folder
    ({"pid", "file", "sig"}) and it is removed after. A host that finds it
    at start died during that import (a crash or os._exit at import, or the
    daemon killed a host whose import held the interpreter), and skips the
    file. The daemon reads it too, to kill a host stuck in an import that
    keeps the host's own deadline from firing.
    """

    def __init__(self, state_dir: str) -> None:
        self.dir = state_dir
        self.marker = os.path.join(state_dir, IMPORTING_NAME)
        self.path = os.path.join(state_dir, SKIPPED_NAME)
        self.skipped: Dict[str, Tuple[Tuple[int, ...], str]] = {}

    def load(self) -> None:
        """Read the skipped files, and turn a leftover marker into one."""
        try:
            with open(self.path, "r", encoding="utf-8") as f:
                raw = json.load(f)
            for rel, item in raw.items():
                self.skipped[rel] = (tuple(int(v) for v in item["sig"]), str(item["error"]))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            LOG.warning("%s unreadable, ignored: %s", self.path, exc)
        try:
            with open(self.marker, "r", encoding="utf-8") as f:
                last = json.load(f)
            rel, sig = str(last["file"]), tuple(int(v) for v in last["sig"])
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            LOG.warning("%s unreadable, ignored: %s", self.marker, exc)
            self.end()
            return
        text = (
            "%s: ImportCrash: the skill host stopped while importing this file (a crash or an exit "
            "at import, or an import that hung the host); the file is skipped until it changes" % rel
        )
        LOG.error("%s", text)
        self.skip(rel, sig, text)
        self.end()

    def check(self, rel: str, sig: Tuple[int, ...]) -> Optional[str]:
        """The error of a skipped file, or None: import it (a changed file is forgiven)."""
        item = self.skipped.get(rel)
        if item is None:
            return None
        if item[0] == sig:
            return item[1]
        LOG.info("%s changed: it is imported again", rel)
        del self.skipped[rel]
        self.save()
        return None

    def forget_missing(self, present: Mapping[str, Any]) -> None:
        """Forget the skipped files that are gone."""
        gone = [rel for rel in self.skipped if rel not in present]
        for rel in gone:
            del self.skipped[rel]
        if gone:
            self.save()

    def skip(self, rel: str, sig: Tuple[int, ...], text: str) -> None:
        """Skip a file until it changes."""
        self.skipped[rel] = (sig, text)
        self.save()

    def begin(self, rel: str, sig: Tuple[int, ...]) -> None:
        """Record the import about to start."""
        self._write(self.marker, {"pid": os.getpid(), "file": rel, "sig": list(sig)})

    def end(self) -> None:
        """The import is over, whatever its outcome."""
        try:
            os.remove(self.marker)
        except FileNotFoundError:
            pass
        except OSError as exc:
            LOG.warning("cannot remove %s: %s", self.marker, exc)

    def save(self) -> None:
        """Write the skipped files."""
        data = {rel: {"sig": list(sig), "error": text} for rel, (sig, text) in sorted(self.skipped.items())}
        self._write(self.path, data)

    @staticmethod
    def _write(path: str, obj: Any) -> None:
        """Write JSON atomically (temporary file, then rename); failures are logged."""
        tmp = path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(dumps(obj))
            os.replace(tmp, path)
        except OSError as exc:
            LOG.error("cannot write %s: %s", path, exc)


# ---------------------------------------------------------------------------
# The host


@dataclasses.dataclass
class Run:
    """One running skill call."""

    skill: SkillDef
    rpc_id: Any
    kwargs: Dict[str, Any]
    task: "Optional[asyncio.Task[Any]]" = None
    cancel_reason: str = ""
    started: float = 0.0
    # A sync skill's thread: alive from its start until fn returns, which
    # may be long after a cancel ended the run.
    thread_alive: bool = False


class RPCRefusal(Exception):
    """A run request refused before the skill starts (JSON-RPC -32603)."""


class Host:
    """Discovery, the skills list, runs and cancels, on one event loop."""

    def __init__(
        self,
        root: str,
        api_url: str,
        list_interval: float,
        writer: FrameWriter,
        import_timeout: float = 10.0,
        state_dir: str = ".",
    ) -> None:
        self.root = root
        self.api_url = api_url
        self.list_interval = list_interval
        self.writer = writer
        self.import_timeout = import_timeout
        self.guard = ImportGuard(state_dir)
        self.guard.load()
        self.exit_code = 0
        self.files: Dict[str, FileState] = {}
        self.skills: Dict[str, SkillDef] = {}
        self.runs: Dict[str, Run] = {}
        # Sync skills whose run was cancelled while their thread still runs:
        # they cannot start again until it ends.
        self.finishing: Dict[str, Run] = {}
        self.problems: Dict[str, str] = {}  # rel -> text published on skill_manager_errors
        self._scan_lock = asyncio.Lock()
        self._list_wanted = asyncio.Event()
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._handlers: Set["asyncio.Future[Any]"] = set()

    # -- lifecycle

    def request_stop(self, reason: str, exit_code: int = 0) -> None:
        """Ask the host to cancel its skills and exit (idempotent)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self.exit_code = exit_code
            self._stop.set()

    async def run(self, reader: LineReader) -> str:
        """Serve until stdin ends or a signal comes; returns why it stopped."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        self.send({"action": "subscribe", "topic": T_RPC_COMMAND})
        self.send({"action": "subscribe", "topic": T_LIST_COMMAND})
        reader.start(loop, self.on_line, lambda: self.request_stop("stdin closed"))
        lister = asyncio.ensure_future(self._list_loop())
        await self._stop.wait()
        LOG.info("stopping: %s", self._stop_reason)
        lister.cancel()
        await self._cancel_all("host stopping")
        # An import cut short by the stop is not the file's fault.
        self.guard.end()
        return self._stop_reason

    async def _cancel_all(self, reason: str) -> None:
        """Cancel every running skill and give them a moment to report."""
        tasks = {}
        for run in list(self.runs.values()):
            if run.task is not None:
                run.cancel_reason = reason
                run.task.cancel()
                tasks[run.task] = run.skill.name
        if tasks:
            _, pending = await asyncio.wait(list(tasks), timeout=SHUTDOWN_GRACE)
            for task in pending:
                LOG.warning("skill %s ignored its cancellation", tasks[task])

    # -- output

    def send(self, frame: Dict[str, Any]) -> int:
        """Queue one client frame on stdout."""
        return self.writer.send(frame)

    def publish(self, topic: str, type_: str, data: Any, **extra: Any) -> int:
        """Publish a server frame object {name, type, data, ...extra} on topic."""
        frame = {"name": topic, "type": type_, "data": data}
        frame.update(extra)
        return self.send({"action": "publish", "topic": topic, "data": frame})

    def publish_rpc(self, payload: Dict[str, Any]) -> None:
        """Publish a run's JSON-RPC reply as the reference does: data is JSON text."""
        inner = {"name": T_RPC_RESULT, "type": "dict", "data": dumps(payload)}
        frame = {"action": "publish", "topic": T_RPC_RESULT, "data": inner}
        size = len(FrameWriter.encode(frame))
        if size > MAX_FRAME and "result" in payload:
            LOG.error("result of id %r too large (%d bytes): reported as an error", payload.get("id"), size)
            payload = {
                "jsonrpc": "2.0",
                "result": {
                    "value": None,
                    "status": ERROR,
                    "exception": "ValueError: result too large (%d bytes, limit %d)" % (size, MAX_FRAME),
                },
                "id": payload.get("id"),
            }
            inner["data"] = dumps(payload)
        self.send(frame)

    def publish_list(self, force: bool = False) -> None:
        """Publish every skill on skills_list_result.

        The frame carries a reachyd key, "finishing": the skills whose
        cancelled run's thread still runs (absent when there are none).
        Periodic lists are skipped while stdout is backed up; forced ones
        (a change of "finishing") are not.
        """
        if not force and self.writer.pending() > 100:
            LOG.warning("stdout is backed up (%d frames): skills list skipped", self.writer.pending())
            return
        data = {name: s.entry for name, s in sorted(self.skills.items())}
        extra: Dict[str, Any] = {}
        if self.finishing:
            extra["finishing"] = sorted(self.finishing)
        if self.publish(T_LIST_RESULT, "dict", data, **extra) < 0:
            self.publish(T_ERRORS, "str", "skills list too large to publish (limit %d bytes)" % MAX_FRAME)

    # -- discovery

    async def _list_loop(self) -> None:
        """Scan and publish every list_interval, and at once when asked."""
        while True:
            try:
                await self.rescan()
                self.publish_list()
            except Exception:  # noqa: BLE001 - try again at the next tick
                LOG.exception("skills list failed")
            try:
                await asyncio.wait_for(self._list_wanted.wait(), self.list_interval)
            except asyncio.TimeoutError:
                pass
            self._list_wanted.clear()

    async def rescan(self) -> None:
        """Bring the skills up to date with the folder.

        Changed files are re-imported, each in a thread of its own and
        within import_timeout; the rest is kept. A file that does not import
        in time stops the host (see _import).
        """
        async with self._scan_lock:
            if self._stop.is_set():
                return
            listing = await run_in_thread(list_python_files, self.root)
            self.guard.forget_missing(listing)
            files: Dict[str, FileState] = {}
            loaded: Set[str] = set()
            for rel, sig in sorted(listing.items()):
                old = self.files.get(rel)
                if old is not None and old.sig == sig:
                    files[rel] = old
                    continue
                loaded.add(rel)
                skipped = self.guard.check(rel, sig)
                if skipped is not None:
                    LOG.warning("not imported: %s", skipped)
                    files[rel] = FileState(rel, sig, module_name_for(rel), {}, skipped)
                    continue
                state = await self._import(rel, sig)
                if state is None:
                    return  # it hung: the host is stopping
                files[rel] = state
            for rel, old in self.files.items():
                if rel not in files:
                    sys.modules.pop(old.module_name, None)
                    LOG.info("%s is gone", rel)
            self._apply(files, loaded)

    async def _import(self, rel: str, sig: Tuple[int, ...]) -> Optional[FileState]:
        """Import one file in a thread of its own, within import_timeout.

        A thread stuck in an import cannot be stopped (and may hold locks
        or a CPU), so a file that does not import in time is skipped from
        then on until it changes, reported on skill_manager_errors, and the
        host stops with EXIT_IMPORT_STUCK for the daemon to start a new one
        without it. Returns None then.
        """
        started = time.monotonic()
        self.guard.begin(rel, sig)
        try:
            state = await asyncio.wait_for(run_in_thread(load_file, self.root, rel, sig), self.import_timeout)
        except asyncio.TimeoutError:
            text = (
                "%s: ImportTimeout: the import did not finish within %g s (a blocking call or an endless "
                "loop at module level?); the file is skipped until it changes" % (rel, self.import_timeout)
            )
            LOG.error("%s; the skill host restarts to leave the stuck import behind", text)
            self.guard.skip(rel, sig, text)
            self.publish(T_ERRORS, "str", text, filename=rel)
            self.request_stop("skill file %s blocked at import" % rel, EXIT_IMPORT_STUCK)
            return None
        finally:
            self.guard.end()
        took = time.monotonic() - started
        if state.error:
            LOG.warning("import failed: %s", state.error)
        else:
            LOG.info("imported %s (%d skills, %.2f s)", rel, len(state.skills), took)
        return state

    def _apply(self, files: Dict[str, FileState], loaded: Set[str]) -> None:
        """Install a scan's result: skills, clashes, errors, vanished runs."""
        self.files = files
        skills: Dict[str, SkillDef] = {}
        owner: Dict[str, str] = {}
        clashes: Dict[str, List[str]] = {}
        for rel in sorted(files):  # later path wins, as the reference's walk
            for name, sk in files[rel].skills.items():
                if name in owner:
                    clashes.setdefault(owner[name], []).append(
                        "skill %r is also defined in %s, which wins" % (name, rel)
                    )
                skills[name] = sk
                owner[name] = rel
        self.skills = skills

        problems: Dict[str, str] = {}
        for rel, st in files.items():
            if st.error:
                problems[rel] = st.error
        for rel, notes in clashes.items():
            problems[rel] = "%s: SkillNameClash: %s" % (rel, "; ".join(notes))
        for rel in sorted(set(problems) | set(self.problems)):
            old, new = self.problems.get(rel, ""), problems.get(rel, "")
            if new != old or (new and rel in loaded):
                self.publish(T_ERRORS, "str", new, filename=rel)
        self.problems = problems

        for name, run in list(self.runs.items()):
            if name not in skills and run.task is not None and not run.task.done():
                LOG.info("skill %s disappeared from the folder: cancelling it", name)
                run.cancel_reason = "skill removed"
                run.task.cancel()

    # -- input

    def on_line(self, raw: bytes) -> None:
        """Handle one stdin line; bad input is logged and skipped."""
        text = raw.strip()
        if not text:
            return
        try:
            frame = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            LOG.warning("stdin: not JSON (%s): %.200r", exc, text)
            return
        if not isinstance(frame, dict):
            LOG.warning("stdin: not a JSON object: %.200r", text)
            return
        name = frame.get("name")
        try:
            if name == T_RPC_COMMAND:
                self.on_rpc_command(frame)
            elif name == T_LIST_COMMAND:
                self._list_wanted.set()
            else:
                LOG.debug("stdin: frame for %r ignored", name)
        except Exception:  # noqa: BLE001 - one bad frame must not stop the host
            LOG.exception("stdin: frame %.200r failed", text)

    def on_rpc_command(self, frame: Dict[str, Any]) -> None:
        """Dispatch an RPC_command frame: run or cancel."""
        data = decode_data(frame.get("data"))
        command = frame.get("command")
        if command is None and isinstance(data, dict):
            command = data.get("command")
        if command == "run":
            self.on_run(data)
        elif command == "cancel":
            skill_name = frame.get("skill_name")
            request_id = frame.get("request_id")
            if isinstance(data, dict):
                skill_name = skill_name if skill_name is not None else data.get("skill_name")
                request_id = request_id if request_id is not None else data.get("request_id")
            self.on_cancel(skill_name, request_id)
        else:
            LOG.warning("RPC_command: unknown command %r ignored", command)

    def on_run(self, data: Any) -> None:
        """Start a skill, or answer -32603 when it cannot start."""
        if not isinstance(data, dict):
            LOG.warning("RPC_command run: data is not an object: %.200r", data)
            return
        method = data.get("method")
        rpc_id = data.get("id")
        if not isinstance(method, str) or method in self.skills:
            self._start(method, data.get("params"), rpc_id)
            return
        # Not known yet: the file may have been uploaded since the last scan.
        fut = asyncio.ensure_future(self._start_after_scan(method, data.get("params"), rpc_id))
        self._handlers.add(fut)
        fut.add_done_callback(self._handlers.discard)

    async def _start_after_scan(self, method: str, params: Any, rpc_id: Any) -> None:
        try:
            await self.rescan()
        except Exception:  # noqa: BLE001 - answer with what we have
            LOG.exception("scan failed")
        self._start(method, params, rpc_id)

    def _start(self, method: Any, params: Any, rpc_id: Any) -> None:
        try:
            run = self._prepare(method, params, rpc_id)
        except RPCRefusal as exc:
            LOG.info("run %r (id %r) refused: %s", method, rpc_id, exc)
            self.publish_rpc({"jsonrpc": "2.0", "error": {"code": RPC_ERROR, "message": str(exc)}, "id": rpc_id})
            return
        self.runs[run.skill.name] = run
        run.started = time.monotonic()
        run.task = asyncio.ensure_future(self._call(run))
        # The result is published from a done callback, not from the
        # coroutine: a task cancelled before its first step never runs it.
        run.task.add_done_callback(lambda task: self._finished(run, task))
        LOG.info("run %s (id %r)", run.skill.name, rpc_id)

    def _prepare(self, method: Any, params: Any, rpc_id: Any) -> Run:
        """Check a run request; the Run carries the bound keyword arguments."""
        if self._stop.is_set():
            raise RPCRefusal("The skill host is stopping.")
        if not isinstance(method, str) or method not in self.skills:
            raise RPCRefusal("Skill '%s' not found." % (method,))
        sk = self.skills[method]
        running = self.runs.get(method)
        if running is not None:
            raise RPCRefusal("Skill '%s' is already running." % method)
        if method in self.finishing:
            raise RPCRefusal(
                "Skill '%s' is still finishing a cancelled run: a sync skill's thread cannot be "
                "interrupted, and the skill can start again when it returns." % method
            )
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RPCRefusal("Skill '%s' takes keyword parameters only." % method)
        if "robot" in params:
            raise RPCRefusal("Parameter 'robot' of skill '%s' is provided by the host." % method)
        kwargs = dict(params)
        if sk.wants_robot:
            kwargs["robot"] = Robot(self.api_url)
        try:
            sk.signature.bind(**kwargs)
        except TypeError as exc:
            raise RPCRefusal("Invalid parameters for skill '%s': %s" % (method, exc)) from None
        return Run(sk, rpc_id, kwargs)

    async def _call(self, run: Run) -> Any:
        """Call the skill: async in the loop, sync in a thread; await what it returns."""
        fn, kwargs = run.skill.fn, run.kwargs
        try:
            if inspect.iscoroutinefunction(fn):
                value = await fn(**kwargs)
            else:
                run.thread_alive = True
                value = await thread_future(fn, (), kwargs, lambda: self._thread_ended(run))
            while inspect.isawaitable(value):
                value = await value
            return value
        except (asyncio.CancelledError, Exception):
            raise
        except BaseException as exc:  # noqa: BLE001
            # SystemExit or KeyboardInterrupt escaping a task would stop
            # the whole loop: make it an ordinary failure of this skill.
            raise Escaped(exc) from None

    def _thread_ended(self, run: Run) -> None:
        """A sync skill's thread returned: a cancelled skill may start again."""
        run.thread_alive = False
        if self.finishing.get(run.skill.name) is run:
            del self.finishing[run.skill.name]
            LOG.info("skill %s: the thread of its cancelled run (id %r) ended", run.skill.name, run.rpc_id)
            self.publish_list(force=True)

    def _finished(self, run: Run, task: "asyncio.Task[Any]") -> None:
        """Publish the result of a run that ended, however it ended."""
        sk = run.skill
        if self.runs.get(sk.name) is run:
            del self.runs[sk.name]
        result: Dict[str, Any]
        if task.cancelled() and self.exit_code == EXIT_IMPORT_STUCK and run.cancel_reason == "host stopping":
            # Nobody cancelled it: the host restarts under it.
            result = {"value": None, "status": ERROR, "exception": "SkillHostRestart: " + self._stop_reason}
        elif task.cancelled():
            result = {"value": None, "status": CANCELLED}
            if run.thread_alive:
                LOG.info("skill %s is sync: its thread runs on until it returns", sk.name)
                # Listed as finishing before the result goes out, so the
                # daemon refuses a new start before anyone learns of the end.
                self.finishing[sk.name] = run
                self.publish_list(force=True)
        elif task.exception() is not None:
            exc = task.exception()
            LOG.error("skill %s failed", sk.name, exc_info=None if isinstance(exc, Escaped) else exc)
            result = {"value": None, "status": ERROR, "exception": describe_exception(exc)}
        else:
            try:
                value = to_jsonable(task.result(), enum_names=False)
                result = {"value": value, "status": COMPLETED}
            except Exception as exc:  # noqa: BLE001 - e.g. a value whose conversion fails
                result = {"value": None, "status": ERROR, "exception": describe_exception(exc)}
        note = ""
        if result["status"] == CANCELLED and run.cancel_reason:
            note = " (%s)" % run.cancel_reason
        took = time.monotonic() - run.started
        LOG.info("skill %s (id %r) %s after %.2f s%s", sk.name, run.rpc_id, result["status"], took, note)
        self.publish_rpc({"jsonrpc": "2.0", "result": result, "id": run.rpc_id})

    def on_cancel(self, skill_name: Any, request_id: Any) -> None:
        """Cancel a skill's run by name and acknowledge with request_id."""
        run = self.runs.get(skill_name) if isinstance(skill_name, str) else None
        if run is not None and run.task is not None and not run.task.done():
            run.cancel_reason = "cancel requested"
            run.task.cancel()
            LOG.info("cancel %s (request %r)", skill_name, request_id)
        else:
            LOG.info("cancel %r (request %r): not running", skill_name, request_id)
        self.publish(T_RPC_RESULT, "dict", None, request_id=request_id)


def decode_data(data: Any) -> Any:
    """Undo pymirokai's double encoding: a string holding JSON is decoded."""
    for _ in range(3):
        if not isinstance(data, str):
            break
        try:
            data = json.loads(data)
        except ValueError:
            break
    return data


# ---------------------------------------------------------------------------
# Entry point


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    """Command line: --skills-dir, --api-url, --list-interval, --import-timeout, --state-dir, --verbose."""
    parser = argparse.ArgumentParser(description="reachyd skill host (JSON lines on stdin/stdout)")
    parser.add_argument("--skills-dir", required=True, help="folder scanned recursively for *.py skill files")
    parser.add_argument("--api-url", default="http://127.0.0.1:8000", help="the daemon's HTTP API")
    parser.add_argument("--list-interval", type=float, default=1.0, help="seconds between skills lists")
    parser.add_argument(
        "--import-timeout",
        type=float,
        default=10.0,
        help="seconds a skill file's import may take; a file over it is skipped until it changes and the host exits "
        "with status %d" % EXIT_IMPORT_STUCK,
    )
    parser.add_argument(
        "--state-dir", default="", help="where the skipped files are remembered (default: the working folder)"
    )
    parser.add_argument("--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    if not args.list_interval > 0:
        parser.error("--list-interval must be positive")
    args.list_interval = max(args.list_interval, 0.05)
    if not args.import_timeout > 0 or not math.isfinite(args.import_timeout):
        parser.error("--import-timeout must be a positive number")
    args.state_dir = os.path.abspath(args.state_dir or os.getcwd())
    return args


def main(argv: Optional[List[str]] = None) -> None:
    """Run the host; exits with 0 after a clean stop."""
    # Until the event loop takes them over, a stop request simply ends the
    # process: nothing runs yet, and the exit is still a clean one.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    args = parse_args(argv)
    proto_in, proto_out = claim_stdio()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Importing a skill must not drop __pycache__ folders into the skills
    # folder: the daemon lists and serves that folder.
    sys.dont_write_bytecode = True
    Robot.default_api_url = args.api_url.rstrip("/")
    LOG.info("%s; skills in %s; api %s", install_pymirokai_shim(), args.skills_dir, args.api_url)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    reader = LineReader(proto_in)
    holder: List[Host] = []

    def broken() -> None:
        if holder:
            loop.call_soon_threadsafe(holder[0].request_stop, "stdout closed")

    writer = FrameWriter(proto_out, broken)

    async def serve() -> str:
        host = Host(
            os.path.abspath(args.skills_dir),
            args.api_url.rstrip("/"),
            args.list_interval,
            writer,
            import_timeout=args.import_timeout,
            state_dir=args.state_dir,
        )
        holder.append(host)
        return await host.run(reader)

    reason = loop.run_until_complete(serve())
    writer.close(FLUSH_TIMEOUT)
    code = holder[0].exit_code if holder else 0
    LOG.info("exit (%s)%s", reason, " with status %d" % code if code else "")
    logging.shutdown()
    # os._exit: threads of cancelled sync skills, or non-daemon threads a
    # skill started (or a stuck import), must not keep the host alive.
    os._exit(code)


if __name__ == "__main__":
    main()
