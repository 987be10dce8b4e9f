"""The sandboxed process: isolate itself, then run the untrusted program.

Started by ``gmr_reward_program.sandbox`` as ``python -I -S -B jail_main.py`` in a fresh
temporary work directory, in a new session, with a JSON job on stdin::

    {"workdir", "code", "mode", "layers", "parent", "report_fd",
     "cpu_s", "memory_mb", "file_bytes", "disk_mb", "nproc", "nofile"}

Order: die with the parent; namespaces (with a PID namespace, fork: the child is PID 1 of
the namespace and everything it leaves behind dies with it); mounts; rlimits; capabilities
dropped; Landlock; seccomp; the layer report on ``report_fd`` (then closed); the audit hook;
the program. ``mode`` is ``script`` (run the code, its stdout is the answer) or
``solution-body`` (the YouronMath released code's "code" format, see ``run_solution_body``).
Standard library only.
"""

from __future__ import annotations

import builtins
import json
import os
import resource
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
LAYERS = ("netns", "pidns", "mountns", "rlimits", "caps", "landlock", "seccomp", "audit")


def set_limits(job: dict) -> str:
    """CPU seconds, address space, file size, processes, open files; no core dumps."""
    mib = 1024 * 1024
    limits = [
        (resource.RLIMIT_CPU, int(job["cpu_s"]), int(job["cpu_s"]) + 1),
        (resource.RLIMIT_FSIZE, int(job["file_bytes"]), int(job["file_bytes"])),
        (resource.RLIMIT_NPROC, int(job["nproc"]), int(job["nproc"])),
        (resource.RLIMIT_NOFILE, int(job["nofile"]), int(job["nofile"])),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_AS, int(job["memory_mb"]) * mib, int(job["memory_mb"]) * mib),
    ]
    failed = []
    for which, soft, hard in limits:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:
            failed.append(f"{which}: {exc}")
    return "on" if not failed else "partly: " + "; ".join(failed)


def relay_child_exit(job: dict) -> None:
    """Fork; the parent waits for the child and exits with its status, the child returns."""
    child = os.fork()
    if child:
        os.close(int(job["report_fd"]))
        _, code = os.waitpid(child, 0)
        os._exit(os.WEXITSTATUS(code) if os.WIFEXITED(code) else 128 + os.WTERMSIG(code))


def isolate(job: dict) -> dict[str, str]:
    """Apply every requested layer; the status of each ("on" or why not)."""
    workdir, wanted = job["workdir"], set(job["layers"])
    status = {name: "off: not requested" for name in LAYERS}
    read_dirs = [p for p in sys.path if p != HERE and os.path.isdir(p)]
    linux = sys.platform.startswith("linux")
    sys.path.insert(0, HERE)  # both imported now: Landlock would refuse to read them later
    import jail_guard

    if linux:
        import jail_kernel as kernel
    sys.path.remove(HERE)
    if linux:
        kernel.die_with_parent(int(job["parent"]))
        status.update(kernel.enter_namespaces(wanted))
        if status["pidns"] == "on":
            # The launcher stays outside and PID 1 only waits: the program runs as PID 2,
            # because the kernel does not deliver SIGXCPU (RLIMIT_CPU) to a namespace's init.
            relay_child_exit(job)
            kernel.die_with_parent(None)
            relay_child_exit(job)
            kernel.die_with_parent(None)
        if status["mountns"] == "on":
            mounts = kernel.setup_mounts(workdir, int(job["disk_mb"]), status["pidns"] == "on")
            whole = mounts["tmpfs"] == "on" and mounts["readonly"] == "on"
            parts = ", ".join(f"{k}: {v}" for k, v in mounts.items())
            status["mountns"] = f"{'on' if whole else 'partly'} ({parts})"
            os.chdir(workdir)
    if "rlimits" in wanted:
        status["rlimits"] = set_limits(job)
    if linux:
        if "caps" in wanted:
            status["caps"] = kernel.drop_capabilities()
        if "landlock" in wanted:
            status["landlock"] = kernel.apply_landlock(workdir, read_dirs)
        if "seccomp" in wanted:
            status["seccomp"] = kernel.apply_seccomp()
    else:
        for name in ("netns", "pidns", "mountns", "caps", "landlock", "seccomp"):
            status[name] = f"off: not available on {sys.platform}"
    if "audit" in wanted:
        status["audit"] = "on"
    os.write(int(job["report_fd"]), json.dumps(status).encode())
    os.close(int(job["report_fd"]))
    if "audit" in wanted:
        jail_guard.install(workdir, tuple(read_dirs))
    for name in ("jail_kernel", "jail_guard", "ctypes", "ctypes._endian", "_ctypes"):
        sys.modules.pop(name, None)
    return status


def fresh_main() -> dict:
    """A new ``__main__`` module for the program, so it cannot reach this launcher's globals."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    return module.__dict__


def run_script(code: str) -> None:
    """Run the program as a script; its printed output is the answer."""
    exec(compile(code, "<program>", "exec"), fresh_main())


def solution_body_program(body: str) -> str | None:
    """The YouronMath released code's "code" format (utils.py ``extract_final_answer_from_code``).

    The completion continues ``def solution():`` and its docstring. Kept: the lines up to the
    first non-blank line indented less than the first line; then every line containing
    ``print(`` or ``input(`` is dropped; ``import math``, ``import datetime`` and
    ``def solution():`` go in front. If the function returns anywhere, ``result =
    solution()``; else if it assigns a plain name, a ``return`` of the last such name is
    appended first; else there is no answer (None).
    """
    import ast

    lines = body.splitlines()
    if not lines:
        return None
    indent = len(lines[0]) - len(lines[0].lstrip())
    kept = []
    for line in lines:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        kept.append(line)
    kept = [line for line in kept if "print(" not in line and "input(" not in line]
    source = "import math\nimport datetime\ndef solution():\n" + "\n".join(kept)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    function = next((node for node in ast.walk(tree)
                     if isinstance(node, ast.FunctionDef) and node.name == "solution"), None)
    if function is None:
        return None
    returns = False
    last_name = None
    stack = [function]
    while stack:  # depth-first, in source order, as ast.NodeVisitor visits
        node = stack.pop()
        if isinstance(node, ast.Return):
            returns = True
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
            node.targets[0], ast.Name
        ):
            last_name = node.targets[0].id
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    if returns:
        return source + "\nresult = solution()"
    if last_name:
        return source + f"\n    return {last_name}\nresult = solution()"
    return None


def run_solution_body(body: str) -> None:
    """Run a ``solution()`` body the released code's way and print ``str(result)``."""
    program = solution_body_program(body)
    if program is None:
        return
    namespace = fresh_main()
    exec(compile(program, "<program>", "exec"), namespace)
    result = namespace.get("result")
    if result is not None:
        print(str(result))


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    isolate(job)
    code = 0
    try:
        if job["mode"] == "solution-body":
            run_solution_body(job["code"])
        else:
            run_script(job["code"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # the program's own failure: one line, no traceback walk
        print(f"{type(exc).__name__}: {exc}"[:2000], file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = code or 1
    os._exit(code % 256)


if __name__ == "__main__":
    main()
