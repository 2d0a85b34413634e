"""Drives a real guided run of runbooks/lb-502.yaml against `runbook sim` in a pseudo-terminal
(100 columns) and prints the screen as a terminal shows it: the README's guided transcript comes
from this run (trimmed with `...`).

    python3 -m venv /tmp/tx-venv && /tmp/tx-venv/bin/pip install pyte
    /tmp/tx-venv/bin/python scripts/guided_transcript.py target/debug/runbook .

It answers as an on-call engineer would: a note and `y` at the manual step, `y` to each action,
Ctrl-C during the first verification's countdown and `r` to retry it. Port 8080 must be free.
"""
import os, pty, re, select, signal, subprocess, sys, time, struct, fcntl, termios

BIN = os.path.abspath(sys.argv[1])
REPO = os.path.abspath(sys.argv[2])
import tempfile
os.chdir(tempfile.mkdtemp(prefix='runbook-transcript-'))
for f in os.listdir('.'):
    if f.endswith('.jsonl') or f.endswith('.lock'):
        os.remove(f)
os.environ['SIM_ADMIN_TOKEN'] = 'readme-transcript-token-0001'
sim = subprocess.Popen([BIN, 'sim', 'classlink-2020', '--listen', '127.0.0.1:8080', '--vars-out', 'sim-vars.yaml'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
deadline = time.time() + 20
while not os.path.exists('sim-vars.yaml') and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
os.makedirs('runbooks', exist_ok=True)
subprocess.run(['cp', f'{REPO}/runbooks/lb-502.yaml', 'runbooks/lb-502.yaml'])
pid, fd = pty.fork()
if pid == 0:
    env = dict(os.environ, NO_COLOR='1', USER='oncall', TERM='xterm', COLUMNS='100')
    env.pop('CI', None)
    os.execve(BIN, [BIN, 'run', 'runbooks/lb-502.yaml', '--vars', 'sim-vars.yaml'], env)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 100, 0, 0))
out = b''
mark = 0
def read_until(pattern, timeout=30):
    """Reads until `pattern` appears in what came after the last match; moves the mark past it."""
    global out, mark
    end = time.time() + timeout
    m = re.search(pattern, out[mark:].decode('utf-8', 'replace'))
    if m:
        mark += len(out[mark:].decode('utf-8', 'replace')[:m.end()].encode())
        return True
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
            text = out[mark:].decode('utf-8', 'replace')
            m = re.search(pattern, text)
            if m:
                mark += len(text[:m.end()].encode())
                return True
    raise SystemExit(f'timeout waiting for {pattern!r}\n' + out.decode('utf-8', 'replace')[-3000:])
def send(s):
    os.write(fd, s.encode())
while True:
    if not read_until(r'(Done\? |Run this action\? |\[14/\d+\] Verify recovery of the LaunchPad|\[c\]ontinue|\[r\]etry|run completed|run failed)'):
        print('child ended:', out.decode('utf-8','replace')[-2000:], file=sys.stderr); break
    tail = out[:mark].decode('utf-8', 'replace')
    last = tail[max(tail.rfind('Done?'), tail.rfind('Run this action?'), tail.rfind('[14/'), tail.rfind('[r]etry'), tail.rfind('run completed')):]
    if last.startswith('run completed'):
        break
    if last.startswith('Done?'):
        if b'noted.' not in out:
            send('n'); read_until(r'note: ?$'); send('called AWS, case 42\r'); read_until(r'noted'); continue
        send('y'); continue
    if last.startswith('Run this action?'):
        send('y'); continue
    if last.startswith('[14/') and b'^C' not in out and b'INTERRUPTED' not in out:
        read_until(r'attempt 1 of'); time.sleep(0.3); os.kill(pid, 0); send('\x03'); read_until(r'\[r\]etry'); send('r'); continue
    if last.startswith('[r]etry'):
        send('r'); continue
try:
    while True:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r: break
        chunk = os.read(fd, 65536)
        if not chunk: break
        out += chunk
except OSError:
    pass
os.waitpid(pid, 0)
sim.terminate()
# Render through a terminal emulator (pyte), with a tall screen so nothing scrolls away.
import pyte
screen = pyte.HistoryScreen(100, 400, history=10000)
stream = pyte.ByteStream(screen)
stream.feed(out.replace(b'\n', b'\r\n').replace(b'\r\r\n', b'\r\n'))
lines = [l.rstrip() for l in screen.display]
while lines and not lines[-1]:
    lines.pop()
print('\n'.join(lines))
