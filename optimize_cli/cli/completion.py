"""`optimize-cli completion [bash|zsh|fish]`: print the shell completion script (click's)."""
from __future__ import annotations

import os

import click

SHELLS = ("bash", "zsh", "fish")
#: the variable click's completion reads (prog name upper-cased, dashes as underscores)
COMPLETE_VAR = "_OPTIMIZE_CLI_COMPLETE"

EPILOG = f"""\b
Examples:
  eval "$(optimize-cli completion bash)"        # in ~/.bashrc
  eval "$(optimize-cli completion zsh)"         # in ~/.zshrc
  optimize-cli completion fish > ~/.config/fish/completions/optimize-cli.fish
The script is what click prints for {COMPLETE_VAR}=bash_source optimize-cli (zsh_source, fish_source).
"""


@click.command(epilog=EPILOG)
@click.argument("shell", required=False, type=click.Choice(SHELLS))
def completion(shell) -> None:
    """Print the completion script for SHELL (default: the one $SHELL names, else bash)."""
    from click.shell_completion import get_completion_class

    main = click.get_current_context().find_root().command
    if shell is None:
        name = os.path.basename(os.environ.get("SHELL", ""))
        shell = name if name in SHELLS else "bash"
    cls = get_completion_class(shell)
    click.echo(cls(main, {}, "optimize-cli", COMPLETE_VAR).source())
