"""Print the README's set-up commands as printed (the ```sh blocks of its "Set up and run" section), one per line.

`.ci/run` runs what this prints, so CI runs the commands a new user pastes, and the two cannot drift apart.
`python tools/readme_commands.py N` prints only the N-th command (from 1).
"""
import re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands(readme=ROOT/'README.md', section='## Set up and run'):
    "The shell commands of `section` in `readme`, in order."
    text = Path(readme).read_text()
    start = text.index(section)
    end = text.find('\n## ', start + len(section))
    body = text[start:end if end >= 0 else None]
    return [b.strip() for b in re.findall(r'```sh\n(.*?)```', body, re.S)]


if __name__ == '__main__':
    cmds = readme_commands()
    if not cmds: sys.exit('README.md has no ```sh block under "## Set up and run"')
    print(cmds[int(sys.argv[1]) - 1] if len(sys.argv) > 1 else '\n'.join(cmds))
