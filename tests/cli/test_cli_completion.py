"""Shell completion of session ids (click's _P8J_COMPLETE protocol)."""

from __future__ import annotations

from click.testing import CliRunner

from p8j.cli.main import cli


def _complete(runner: CliRunner, words: str, shell: str = "bash") -> list[str]:
    cword = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    result = runner.invoke(
        cli,
        [],
        prog_name="p8j",
        env={"_P8J_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": cword},
    )
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_ids_complete_by_prefix(runner: CliRunner, demo_ids: list[str]) -> None:
    out = _complete(runner, f"p8j replay {demo_ids[1][:13]}")
    assert out == [f"plain,{demo_ids[1]}"]
    every = _complete(runner, "p8j replay ")
    assert {ln.split(",", 1)[1] for ln in every} == {*demo_ids, "latest"}


def test_ids_complete_for_every_id_argument(runner: CliRunner, demo_ids: list[str]) -> None:
    for cmd in ("export", "tail", "verify"):
        out = _complete(runner, f"p8j {cmd} {demo_ids[2][:13]}")
        assert out == [f"plain,{demo_ids[2]}"], cmd


def test_zsh_shows_project_and_title(runner: CliRunner, demo_ids: list[str]) -> None:
    out = _complete(runner, f"p8j replay {demo_ids[0][:13]}", shell="zsh")
    assert out[:3] == [
        "plain",
        demo_ids[0],
        "webshop: The checkout total is wrong when a coupon and free shipping apply together. C"[
            :80
        ],
    ]


def test_states_complete(runner: CliRunner) -> None:
    assert _complete(runner, "p8j ls --status pa") == ["plain,paused"]


def test_completion_script_is_available(runner: CliRunner) -> None:
    result = runner.invoke(cli, [], prog_name="p8j", env={"_P8J_COMPLETE": "bash_source"})
    assert "_p8j_completion" in result.stdout
