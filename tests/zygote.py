"""Start this package's console scripts without paying their import each time.

Every `seedling_*` command imports torch, torchvision, timm and fastai first: about 10 s of one core, measured with
`python -X importtime -c "import fastai.vision.all"`, and the suite starts well over a hundred of them. `Zygote` is a
process that imports the console scripts once and then, for each command, forks a child that runs the script's entry
point (read from the installed package's `console_scripts`, the same function `.venv/bin/seedling_train` calls) with
the command's arguments, working directory, environment and stdout/stderr files, and exits with its status. Each
command still runs in a process of its own, as from the shell; only the imports are shared. The zygote process is
single-threaded when it forks (checked), so the children start in a consistent state.

Run as a script, this file is the zygote: it reads one JSON request per line on stdin and answers on stdout with the
child's pid, then its exit status.
"""
import json, os, select, signal, subprocess, sys, time

GROUP, PACKAGE = 'console_scripts', 'seedling_clf'
MARK = 'zygote: '  # the zygote's replies start with it: anything else an import prints on stdout is skipped


def entry_points():
    "This package's console scripts: name -> entry point."
    from importlib.metadata import entry_points as eps
    return {e.name: e for e in eps(group=GROUP) if e.value.split(':')[0].split('.')[0] == PACKAGE}


def exit_status(code):
    "The status `sys.exit(code)` gives a process: None is 0, an int itself, anything else is printed and gives 1."
    if code is None: return 0
    if isinstance(code, int): return code
    print(code, file=sys.stderr)
    return 1


def run_child(func, req):
    "In the forked child: become the command `req` describes, run `func` as the console script does, and exit."
    status = 1
    try:
        for fd, path, flags in [(0, os.devnull, os.O_RDONLY), (1, req['stdout'], os.O_WRONLY), (2, req['stderr'], os.O_WRONLY)]:
            f = os.open(path, flags); os.dup2(f, fd); os.close(f)
        os.chdir(req['cwd'])
        os.environ.clear(); os.environ.update(req['env'])
        sys.argv = req['argv']
        try: status = exit_status(func())
        except SystemExit as e: status = exit_status(e.code)
        except BaseException:
            import traceback; traceback.print_exc()
    finally:
        import atexit; atexit._run_exitfuncs()  # what a normal exit runs (multiprocessing's finalizers: scratch_dir)
        for s in (sys.stdout, sys.stderr):
            try: s.flush()
            except Exception: pass
        os._exit(status)


def serve():
    "The zygote's loop: import every console script, then fork one child per request."
    import threading
    funcs = {name: e.load() for name, e in entry_points().items()}
    reply = lambda **kw: (sys.stdout.write(MARK + json.dumps(kw) + '\n'), sys.stdout.flush())
    reply(ready=sorted(funcs), threads=threading.active_count())
    for line in sys.stdin:
        req = json.loads(line)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0: run_child(funcs[req['tool']], req)
        reply(pid=pid)
        reply(status=os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))


class Zygote:
    "A zygote process of this environment's Python, started with `env`; `run` one command at a time."
    def __init__(self, env):
        self.env = dict(env)
        self.proc, self.buf = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env), b''
        hello = self._read(600)
        if hello is None or hello.get('threads') != 1:
            self.close()
            raise RuntimeError(f"the zygote did not start single-threaded: {hello}")
        self.tools = set(hello['ready'])

    def _read(self, timeout):
        "The zygote's next reply, or None after `timeout` seconds (read unbuffered: select sees what is in the pipe)."
        deadline, fd = time.monotonic() + timeout, self.proc.stdout.fileno()
        while True:
            while b'\n' in self.buf:
                line, self.buf = self.buf.split(b'\n', 1)
                if line.startswith(MARK.encode()): return json.loads(line[len(MARK):])
            ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not ready: return None
            chunk = os.read(fd, 65536)
            if not chunk: raise RuntimeError(f"the zygote exited with status {self.proc.wait()}")
            self.buf += chunk

    def run(self, argv, cwd, env, timeout, tmp):
        "Run `argv` (tool name first) in a forked child: a `CompletedProcess` like `subprocess.run(..., text=True)`'s."
        paths = {k: os.path.join(tmp, f'{os.getpid()}.{k}') for k in ('stdout', 'stderr')}
        for p in paths.values(): open(p, 'w').close()
        req = dict(tool=argv[0], argv=[os.path.join(os.path.dirname(sys.executable), argv[0]), *argv[1:]],
                   cwd=str(cwd), env=dict(env), **paths)
        self.proc.stdin.write((json.dumps(req) + '\n').encode()); self.proc.stdin.flush()
        pid = self._read(600)['pid']
        done = self._read(timeout)
        if done is None:
            os.kill(pid, signal.SIGKILL); self._read(60)
            raise subprocess.TimeoutExpired(argv, timeout)
        out, err = (open(paths[k], encoding='utf-8', errors='replace').read() for k in ('stdout', 'stderr'))
        for p in paths.values(): os.remove(p)
        return subprocess.CompletedProcess(argv, done['status'], out, err)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try: self.proc.wait(30)
            except subprocess.TimeoutExpired: self.proc.kill()


if __name__ == '__main__': serve()
