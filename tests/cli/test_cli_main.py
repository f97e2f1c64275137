"""The command group: registration, help, exit codes, errors, pipes, start-up weight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from p8j.cli import main as cli_main
from p8j.cli.main import COMMANDS, SHORT_HELP, cli, short_help
from p8j.journal import Home

from .cli_helpers import record_simple, run_p8j


def test_registry_is_sorted_and_every_command_loads() -> None:
    assert list(COMMANDS) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert isinstance(command, click.Command), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_text_and_json(runner: CliRunner, name: str) -> None:
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.help and len(command.help.splitlines()) == 1
    assert " ".join(command.help.split()) in " ".join(result.stdout.split())  # click wraps it
    assert "--json" in result.stdout
    assert "--home" in result.stdout


def test_group_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.stdout


def test_the_help_table_is_each_commands_own_short_help() -> None:
    """`p8j --help` lists commands from SHORT_HELP: it must say what the commands say."""
    assert list(SHORT_HELP) == list(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and not command.hidden
        for limit in range(0, 130):  # as click cuts it for any terminal width
            assert short_help(SHORT_HELP[name], limit) == command.get_short_help_str(limit), name


def test_group_help_imports_no_command(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from p8j.cli.main import COMMANDS, main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "mods = {target.split(':')[0] for target in COMMANDS.values()}\n"
        "print('LOADED', sorted(m for m in mods if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=dict(os.environ, P8J_HOME=str(tmp_path), COLUMNS="60"),
        timeout=60,
        check=False,
    )
    assert b"LOADED []" in done.stderr, done.stderr
    assert b"  verify " in done.stdout and b"..." in done.stdout  # cut to 60 columns


def test_a_command_missing_from_the_help_table_is_listed_from_itself(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = runner.invoke(cli, ["--help"]).stdout
    monkeypatch.delitem(cli_main.SHORT_HELP, "ls")
    assert runner.invoke(cli, ["--help"]).stdout == full


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("p8j, version ")


def test_unknown_command_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command" in result.stderr


def test_home_option_before_and_after_the_command(runner: CliRunner, tmp_path: Path) -> None:
    a, b = Home(tmp_path / "a"), Home(tmp_path / "b")
    sid_a = record_simple(a, "alpha")
    sid_b = record_simple(b, "beta")
    before = runner.invoke(cli, ["--home", str(a.path), "ls", "-q"])
    after = runner.invoke(cli, ["ls", "-q", "--home", str(b.path)])
    both = runner.invoke(cli, ["--home", str(a.path), "ls", "-q", "--home", str(b.path)])
    assert before.stdout.split() == [sid_a]
    assert after.stdout.split() == [sid_b]
    assert both.stdout.split() == [sid_b]  # the command's own --home wins


def test_library_errors_exit_1_with_one_line_on_stderr(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["replay", "0123"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("p8j: ")
    assert "Traceback" not in result.output


def test_malformed_id_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["replay", "../../etc/passwd"])
    assert result.exit_code == 2
    assert "invalid session id" in result.stderr


def test_module_entry_point_runs(tmp_path: Path) -> None:
    done = run_p8j("--help", home=tmp_path)
    assert done.returncode == 0 and b"Commands:" in done.stdout


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    for i in range(30):
        record_simple(home, f"p{i}")
    env = dict(os.environ, P8J_HOME=str(home.path))
    for args in (["ls"], ["ls", "--json"], ["tail", "--no-follow", "-n", "200"], ["search", "."]):
        cmd = f"{sys.executable} -m p8j.cli {' '.join(args)} | head -c 1 >/dev/null"
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd], capture_output=True, env=env, timeout=60
        )
        assert done.stderr == b"", (args, done.stderr)


def test_full_disk_on_stdout_is_one_line_exit_1(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    home = Home(tmp_path / "h")
    record_simple(home)
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "p8j.cli", "ls"],
            stdout=full,
            stderr=subprocess.PIPE,
            env=dict(os.environ, P8J_HOME=str(home.path)),
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "disk is full" in lines[0], done.stderr
    assert b"Traceback" not in done.stderr


def test_full_disk_while_recording_the_demo(tmp_path: Path) -> None:
    """A write the file system refuses (here RLIMIT_FSIZE: EFBIG) is one line, exit 1."""
    import resource

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    done = subprocess.run(
        [sys.executable, "-m", "p8j.cli", "demo"],
        capture_output=True,
        env=dict(os.environ, P8J_HOME=str(tmp_path / "h")),
        preexec_fn=small_files,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("p8j: "), lines
    assert "too large" in lines[0]


def test_missing_home(runner: CliRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    ls = runner.invoke(cli, ["--home", missing, "ls"])
    assert ls.exit_code == 0 and "No sessions" in ls.stderr
    assert runner.invoke(cli, ["--home", missing, "ls", "--json"]).stdout == "[]\n"
    for args in (["replay"], ["export"], ["tail", "--no-follow", "latest"], ["verify", "latest"]):
        result = runner.invoke(cli, ["--home", missing, *args])
        assert result.exit_code == 1, args
        assert result.stderr.startswith("p8j: ") and result.stderr.count("\n") == 1, args
    search = runner.invoke(cli, ["--home", missing, "search", "x"])
    assert search.exit_code == 1 and search.stderr == ""  # like grep: nothing matched
    assert runner.invoke(cli, ["--home", missing, "verify"]).exit_code == 0
    tail = runner.invoke(cli, ["--home", missing, "tail", "--no-follow"])  # nothing to show
    assert tail.exit_code == 0 and tail.stdout == "" and "No sessions" in tail.stderr
    assert not Path(missing).exists()  # reading never creates a journal


def test_start_up_imports_stay_light(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        # What the interpreter loaded before p8j (site hooks, .pth files) is not p8j's.
        "before = set(sys.modules)\n"
        "from p8j.cli.main import main\n"
        "for argv in (['--help'], ['ls'], ['ls', '--json']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('watchfiles', 'rich', 'prompt_toolkit') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=dict(os.environ, P8J_HOME=str(tmp_path)),
        timeout=60,
        check=False,
    )
    assert b"HEAVY []" in done.stderr, done.stderr


def test_ls_json_imports_no_terminal_rendering(tmp_path: Path) -> None:
    """`p8j ls --json` (a start-up race at 10k sessions) imports no terminal or writer code."""
    from p8j.journal import SessionManager

    with SessionManager(tmp_path) as mgr:  # a session: ls --json has a row to encode
        mgr.start_session("light")
    code = (
        "import sys\n"
        # What the interpreter loaded before p8j (site hooks, .pth files) is not p8j's.
        "before = set(sys.modules)\n"
        "from p8j.cli.main import main\n"
        "try:\n"
        "    main(['ls', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = ('p8j.cli.render', 'p8j.replay.content', 'shutil', 'unicodedata',\n"
        "         'click.shell_completion', 'watchfiles',\n"
        # No log is read: the event decoder (~3 ms to build) is not either.
        "         'p8j.journal.codec._DECODER',\n"
        # What only writing needs (blob and temp-file names): ~10% of the process.
        "         'secrets', 'random', 'socket', 'hashlib')\n"
        "import p8j.journal.codec as codec\n"
        "if codec._DECODER is not None:\n"
        "    sys.modules['p8j.journal.codec._DECODER'] = codec\n"
        "print('LOADED', [m for m in names if m in sys.modules and m not in before],\n"
        "      file=sys.stderr)\n"
    )
    from p8j.journal.cache import list_summaries

    list_summaries(Home(tmp_path))  # an up-to-date catalog: the listing reads no log
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=dict(os.environ, P8J_HOME=str(tmp_path)),
        timeout=60,
        check=False,
    )
    assert b'"project_name":"light"' in done.stdout, done.stderr
    assert b"LOADED []" in done.stderr, done.stderr


def test_main_leaves_its_objects_to_the_exit(tmp_path: Path) -> None:
    """main() freezes what is alive before exiting: no final collection traverses it."""
    code = (
        "import atexit, gc, sys\n"
        "from p8j.cli.main import main\n"
        "atexit.register(lambda: print('FROZEN', gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "main(['search', 'nothing-here'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=dict(os.environ, P8J_HOME=str(tmp_path)),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1  # nothing matched: main still exits through its end
    assert b"FROZEN True" in done.stderr, done.stderr
