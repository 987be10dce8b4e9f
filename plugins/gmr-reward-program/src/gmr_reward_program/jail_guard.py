"""The Python audit hook installed in the sandbox before the untrusted code runs.

Standard library only (it runs under ``python -I -S``). It refuses, with ``PermissionError``:
opening, listing or changing files outside the work directory (reading is also allowed in
the standard library's directories), process creation (``os.fork``, ``os.system``,
``os.exec*``, ``os.posix_spawn``, ``subprocess``), sockets, threads, ``ctypes``, ``mmap``,
signals, rlimit changes, tracing/profiling hooks, new audit hooks, ``gc`` introspection,
hand-built code objects, ``marshal`` outside the import system, and frame access through
tracebacks and generators.

This layer is not a security boundary on its own: CPython documents audit hooks as a way to
observe, not to sandbox, and a program can reach interpreter internals that no hook sees.
It gives ordinary attempts a clear, early error and is the only layer on systems without the
kernel layers (see ``jail_kernel``). Everything it uses is bound when it is installed, so a
program that patches ``builtins`` or ``os`` does not change its decisions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

#: Events refused whatever their arguments.
DENIED_EVENTS = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "signal.pthread_kill", "subprocess.Popen", "pty.spawn",
    "_thread.start_new_thread", "mmap.__new__", "code.__new__", "setopencodehook",
    "sys.addaudithook", "sys.settrace", "sys.setprofile", "sys._current_frames",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "resource.setrlimit", "resource.prlimit", "os.add_dll_directory", "os.startfile",
    "webbrowser.open", "socket.__new__",
})

#: Event prefixes refused whatever their arguments.
DENIED_PREFIXES = ("socket.", "ctypes.", "urllib.", "http.", "ftplib.", "smtplib.",
                   "poplib.", "imaplib.", "nntplib.", "telnetlib.", "winreg.", "msvcrt.")

#: Modules that may not be imported (they reach the kernel or the interpreter directly).
DENIED_MODULES = frozenset({
    "ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters", "_xxinterpchannels",
    "_testcapi", "_testinternalcapi", "_testmultiphase", "_testbuffer", "_testimportmultiple",
    "_tracemalloc",
})

#: Attributes that hand out interpreter frames of code the program did not write.
DENIED_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})

#: Path events: event -> ((argument index of a path, index of its dir_fd or None), ...) and
#: whether the access writes. A symlink's target is not checked: every open resolves links.
PATH_EVENTS: dict[str, tuple[tuple[tuple[int, int | None], ...], bool]] = {
    "os.listdir": (((0, None),), False), "os.scandir": (((0, None),), False),
    "os.listxattr": (((0, None),), False), "os.getxattr": (((0, None),), False),
    "os.chdir": (((0, None),), True),
    "os.mkdir": (((0, 2),), True), "os.rmdir": (((0, 1),), True),
    "os.remove": (((0, 1),), True), "os.rename": (((0, 2), (1, 3)), True),
    "os.link": (((0, 2), (1, 3)), True), "os.symlink": (((1, 2),), True),
    "os.truncate": (((0, None),), True), "os.chmod": (((0, 2),), True),
    "os.chown": (((0, 3),), True), "os.chflags": (((0, None),), True),
    "os.lchflags": (((0, None),), True), "os.utime": (((0, 3),), True),
    "os.setxattr": (((0, None),), True), "os.removexattr": (((0, None),), True),
    "os.mkfifo": (((0, 2),), True), "os.mknod": (((0, 3),), True),
    "shutil.copyfile": (((0, None), (1, None)), True),
    "shutil.copymode": (((0, None), (1, None)), True),
    "shutil.copystat": (((0, None), (1, None)), True),
    "shutil.copytree": (((0, None), (1, None)), True),
    "shutil.move": (((0, None), (1, None)), True), "shutil.rmtree": (((0, None),), True),
    "shutil.chown": (((0, None),), True), "shutil.make_archive": (((0, None),), True),
    "shutil.unpack_archive": (((0, None), (1, None)), True),
}

#: The os.open flags that make an open a write.
WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # O_WRONLY O_RDWR O_CREAT O_TRUNC O_APPEND


def make_hook(workdir: str, read_dirs: tuple[str, ...]) -> Callable[[str, tuple], None]:
    """The audit hook: ``workdir`` readable and writable, ``read_dirs`` readable."""
    import _stat
    import pathlib
    import posix

    lstat, readlink, getcwd = posix.lstat, posix.readlink, posix.getcwd
    is_link = _stat.S_ISLNK
    fs_decode = posix.fsdecode if hasattr(posix, "fsdecode") else None
    getframe = sys._getframe
    path_types = (pathlib.PurePosixPath, pathlib.PosixPath)
    str_, bytes_, int_, type_, len_, range_ = str, bytes, int, type, len, range
    permission_error = PermissionError
    write_roots = (workdir,)
    read_roots = (workdir, *read_dirs)
    path_events = dict(PATH_EVENTS)
    denied_events, denied_prefixes = DENIED_EVENTS, DENIED_PREFIXES
    denied_modules, denied_attributes = DENIED_MODULES, DENIED_ATTRIBUTES
    fd_dir = "/proc/self/fd/"

    def as_text(path: object) -> str | None:
        kind = type_(path)
        if kind is str_:
            return path  # type: ignore[return-value]
        if kind is bytes_:
            return fs_decode(path) if fs_decode else path.decode("utf-8", "surrogateescape")
        if kind in path_types:
            return str_(path)
        return None  # anything else could run the program's own code: refuse it

    def normalise(path: str) -> str:
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(part)
        return "/" + "/".join(parts)

    def resolve(path: str, base: str | None = None) -> str:
        """Absolute, normalised, with every symlink followed (at most 40)."""
        if not path.startswith("/"):
            path = (base or getcwd()) + "/" + path
        path = normalise(path)
        for _ in range_(40):
            parts = path.strip("/").split("/") if path != "/" else []
            done = ""
            changed = False
            for index in range_(len_(parts)):
                candidate = done + "/" + parts[index]
                try:
                    is_symlink = is_link(lstat(candidate).st_mode)
                except OSError:
                    is_symlink = False
                if is_symlink:
                    target = readlink(candidate)
                    rest = "/".join(parts[index + 1 :])
                    joined = target if target.startswith("/") else done + "/" + target
                    path = normalise(joined + ("/" + rest if rest else ""))
                    changed = True
                    break
                done = candidate
            if not changed:
                return path
        raise permission_error("sandbox: too many symbolic links")

    def inside(path: str, roots: tuple[str, ...]) -> bool:
        for root in roots:
            if path == root or path.startswith(root + "/"):
                return True
        return False

    def check(event: str, path: object, write: bool, dir_fd: object = None) -> None:
        if path is None:
            path = "."
        if type_(path) is int_:
            return  # an already open descriptor
        text = as_text(path)
        if text is None:
            raise permission_error(f"sandbox: {event} on a {type_(path).__name__} refused")
        base = None
        if type_(dir_fd) is int_ and dir_fd >= 0 and not text.startswith("/"):
            base = readlink(fd_dir + str_(dir_fd))
        real = resolve(text, base)
        if not inside(real, write_roots if write else read_roots):
            kind = "write" if write else "read"
            raise permission_error(f"sandbox: {event} ({kind}) outside the work directory: {text}")

    def hook(event: str, args: tuple) -> None:
        if event in denied_events or event.startswith(denied_prefixes):
            raise permission_error(f"sandbox: {event} refused")
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, 0))[:3]
            writes = type_(mode) is str_ and any(c in mode for c in "wax+")
            writes = writes or (type_(flags) is int_ and bool(flags & WRITE_FLAGS))
            check(event, path, writes)
        elif event in path_events:
            places, writes = path_events[event]
            for index, fd_index in places:
                if index < len_(args):
                    has_fd = fd_index is not None and fd_index < len_(args)
                    dir_fd = args[fd_index] if has_fd else None
                    check(event, args[index], writes, dir_fd)
        elif event == "import":
            name = args[0] if args else ""
            if type_(name) is str_ and name.split(".")[0] in denied_modules:
                raise permission_error(f"sandbox: import of {name} refused")
        elif event == "object.__getattr__":
            if len_(args) > 1 and args[1] in denied_attributes:
                raise permission_error(f"sandbox: access to {args[1]} refused")
        elif event == "compile":
            filename = args[1] if len_(args) > 1 else None
            if type_(filename) in (str_, bytes_) and filename[:7] in ("<frozen", b"<frozen"):
                raise permission_error("sandbox: compiling as the import system refused")
        elif event in ("marshal.loads", "marshal.load"):
            caller = getframe(1).f_code.co_filename
            if caller != "<frozen importlib._bootstrap_external>":
                raise permission_error(f"sandbox: {event} refused")

    return hook


def _refuse_threads(*args: object, **kwargs: object) -> None:
    raise PermissionError("sandbox: threads refused")


def install(workdir: str, read_dirs: tuple[str, ...]) -> None:
    """Install the hook for the rest of this interpreter's life (hooks cannot be removed).

    Python 3.11 raises no audit event for a new thread, so ``_thread``'s starters (imported
    at start-up, before any program) are replaced by a refusal.
    """
    import _thread

    for name in ("start_new_thread", "start_new", "start_joinable_thread"):
        if hasattr(_thread, name):
            setattr(_thread, name, _refuse_threads)
    sys.addaudithook(make_hook(workdir, read_dirs))
