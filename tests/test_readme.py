"""The README's Python examples run, and CI runs exactly the README's test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    commands = [line.strip() for block in _blocks("bash") for line in block.splitlines()
                if "pytest" in line and "venv" in line]
    assert len(commands) == 1, commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_readme_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _blocks("python")[index]
    exec(compile(code, f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})


def test_readme_cli_examples_are_the_ones_the_cli_tests_run():
    """The solve/serve examples in the README are executed by tests/engine/test_solve_cli.py and
    test_serve.py from tests/engine/solve_fixtures.py: every one of them must be in the README as shown."""
    from tests.engine import solve_fixtures as fx

    texts = [fx.GAME_NFG.strip(), fx.README_FILES_PY.strip(), fx.README_STDIN, fx.README_SERVE,
             fx.README_CLIENT_PY.strip(), *fx.README_COMMANDS, *fx.README_CURL]
    for text in texts:
        for line in text.splitlines():
            assert line.strip() in README, line
