"""Shell completion for faq-search, faq-kb and faq-bot, written out from their parsers.

``faq-kb completion bash|zsh|fish`` prints a static script: the shell completes from it
without starting Python, and nothing here is imported on the query path.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh", "fish")


@dataclass
class Option:
    """One option: its flags, and what its value is (None: it takes none)."""

    flags: list[str]
    value: str | None  # "file", "dir", "choice", "word" or None
    help: str = ""
    choices: list[str] = field(default_factory=list)
    repeat: bool = False
    meta: str = "value"  # what the value is called in zsh's hints


@dataclass
class Command:
    """A program or a subcommand: its options, positional argument and subcommands."""

    name: str
    help: str = ""
    options: list[Option] = field(default_factory=list)
    positional: str | None = None  # "file", "dir", "choice", "word" or None
    choices: list[str] = field(default_factory=list)
    many: bool = False  # the positional argument repeats
    subcommands: list[Command] = field(default_factory=list)


def _kind(metavar: str | tuple[str, ...] | None, choices: object) -> str:
    if choices:
        return "choice"
    meta = " ".join(metavar) if isinstance(metavar, tuple) else (metavar or "")
    meta = meta.upper()
    if "DIR" in meta:
        return "dir"
    if "FILE" in meta or "PATH" in meta:
        return "file"
    return "word"


def describe(parser: argparse.ArgumentParser, name: str, help_: str = "") -> Command:
    """The completion model of an argparse parser (subparsers included)."""
    command = Command(name, help_)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for sub_name, sub in action.choices.items():
                command.subcommands.append(describe(sub, sub_name, helps.get(sub_name, "")))
        elif action.option_strings:
            takes = action.nargs != 0
            choices = [str(c) for c in action.choices] if action.choices else []
            command.options.append(
                Option(
                    list(action.option_strings),
                    _kind(action.metavar or action.dest, choices) if takes else None,
                    _one_line(action.help),
                    choices,
                    isinstance(action, argparse._AppendAction),
                    _meta(action.metavar or action.dest),
                )
            )
        elif action.help != argparse.SUPPRESS:
            command.positional = _kind(action.metavar or action.dest, action.choices)
            command.choices = [str(c) for c in action.choices] if action.choices else []
            command.many = action.nargs in ("*", "+")
    return command


def _meta(metavar: str | tuple[str, ...] | None) -> str:
    text = " ".join(metavar) if isinstance(metavar, tuple) else (metavar or "value")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower() or "value"


def _one_line(text: str | None) -> str:
    if not text or text == argparse.SUPPRESS:
        return ""
    return " ".join(text.replace("%%", "%").split())


def programs() -> list[Command]:
    """The models of faq-search, faq-kb and faq-bot (faq-bot only with the slack extra)."""
    from kb.cli.parsers import kb_parser, search_parser

    found = [describe(search_parser(), "faq-search"), describe(kb_parser(), "faq-kb")]
    try:
        from bot.app import bot_parser
    except ImportError:  # no slack extra: no faq-bot to complete
        return found
    return [*found, describe(bot_parser(), "faq-bot")]


def script(shell: str, commands: list[Command] | None = None) -> str:
    """The completion script for ``shell``."""
    writers: dict[str, Callable[[list[Command]], str]] = {
        "bash": _bash,
        "zsh": _zsh,
        "fish": _fish,
    }
    return writers[shell](commands if commands is not None else programs())


def _ident(name: str) -> str:
    return "_faq_kb_" + re.sub(r"\W", "_", name)


# bash


def _bash_words(command: Command, cur_is_option: bool) -> str:
    if cur_is_option:
        return " ".join(f for o in command.options for f in o.flags)
    return " ".join(s.name for s in command.subcommands)


def _bash_reply(kind: str | None, choices: list[str]) -> str:
    if kind == "file":
        return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))'
    if kind == "dir":
        return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))'
    if kind == "choice":
        return f'COMPREPLY=($(compgen -W "{" ".join(choices)}" -- "$cur"))'
    return "COMPREPLY=()"


def _bash_case(command: Command, indent: str) -> list[str]:
    lines = [f'{indent}case "$prev" in']
    for option in command.options:
        if option.value is not None:
            reply = _bash_reply(option.value, option.choices)
            lines.append(f"{indent}    {'|'.join(option.flags)}) {reply}; return ;;")
    lines.append(f"{indent}esac")
    lines.append(f'{indent}if [[ "$cur" == -* ]]; then')
    lines.append(f'{indent}    COMPREPLY=($(compgen -W "{_bash_words(command, True)}" -- "$cur"))')
    lines.append(f"{indent}    return")
    lines.append(f"{indent}fi")
    if command.subcommands:
        words = _bash_words(command, False)
        lines.append(f'{indent}COMPREPLY=($(compgen -W "{words}" -- "$cur"))')
    else:
        lines.append(f"{indent}{_bash_reply(command.positional, command.choices)}")
    return lines


def _bash(commands: list[Command]) -> str:
    out = ["# bash completion for faq-search, faq-kb and faq-bot (faq-kb completion bash)"]
    for program in commands:
        func = _ident(program.name)
        out += [
            f"{func}() {{",
            '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        ]
        if program.subcommands:
            names = "|".join(s.name for s in program.subcommands)
            out += [
                '    local sub="" i',
                "    for ((i = 1; i < COMP_CWORD; i++)); do",
                '        case "${COMP_WORDS[i]}" in',
                f'        {names}) sub="${{COMP_WORDS[i]}}"; break ;;',
                "        esac",
                "    done",
                '    case "$sub" in',
            ]
            for sub in program.subcommands:
                out.append(f"    {sub.name})")
                out += _bash_case(sub, "        ")
                out.append("        ;;")
            out.append("    *)")
            out += _bash_case(program, "        ")
            out += ["        ;;", "    esac"]
        else:
            out += _bash_case(program, "    ")
        out += ["}", f"complete -F {func} {program.name}", ""]
    return "\n".join(out)


# zsh


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_action(kind: str | None, choices: list[str]) -> str:
    return {
        "file": "_files",
        "dir": "_files -/",
        "choice": f"({' '.join(choices)})",
    }.get(kind or "", " ")


def _zsh_specs(command: Command) -> list[str]:
    specs = []
    for option in command.options:
        text = re.sub(r"([\[\]\\])", r"\\\1", option.help)
        for flag in option.flags:
            spec = f"{'*' if option.repeat else ''}{flag}[{text}]"
            if option.value is not None:
                spec += f":{option.meta}:{_zsh_action(option.value, option.choices)}"
            specs.append(_zsh_quote(spec))
    if command.positional and not command.subcommands:
        action = _zsh_action(command.positional, command.choices)
        specs.append(_zsh_quote(f"{'*' if command.many else '1'}:{command.positional}:{action}"))
    return specs


def _zsh(commands: list[Command]) -> str:
    names = " ".join(c.name for c in commands)
    out = [f"#compdef {names}", "# zsh completion (faq-kb completion zsh)", ""]
    for program in commands:
        func = _ident(program.name)
        out.append(f"{func}() {{")
        if not program.subcommands:
            out.append("    _arguments -s \\")
            out += [f"        {spec} \\" for spec in _zsh_specs(program)]
            out += ["", "}", ""]
            continue
        out += [
            '    local curcontext="$curcontext" state line',
            "    typeset -A opt_args",
            "    _arguments -C \\",
            *[f"        {spec} \\" for spec in _zsh_specs(program)],
            "        '1:command:->command' \\",
            "        '*::argument:->argument'",
            "    case $state in",
            "    command)",
            "        local -a commands",
            "        commands=(",
            *[f"            {_zsh_quote(s.name + ':' + s.help)}" for s in program.subcommands],
            "        )",
            "        _describe -t commands command commands",
            "        ;;",
            "    argument)",
            "        case $line[1] in",
        ]
        for sub in program.subcommands:
            out.append(f"        {sub.name})")
            out.append("            _arguments \\")
            out += [f"                {spec} \\" for spec in _zsh_specs(sub)]
            out += ["", "            ;;"]
        out += ["        esac", "        ;;", "    esac", "}", ""]
    out += ["case $service in"]
    out += [f'{c.name}) {_ident(c.name)} "$@" ;;' for c in commands]
    out += ["esac", ""]
    return "\n".join(out)


# fish


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(program: str, condition: str, option: Option) -> str:
    parts = [f"complete -c {program}"]
    if condition:
        parts.append(f"-n {_fish_quote(condition)}")
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.value == "file":
        parts.append("-r -F")
    elif option.value == "dir":
        parts.append("-r -f -a '(__fish_complete_directories)'")
    elif option.value == "choice":
        parts.append(f"-r -f -a {_fish_quote(' '.join(option.choices))}")
    elif option.value == "word":
        parts.append("-r -f")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


def _fish_positional(program: str, condition: str, command: Command) -> list[str]:
    where = f"-n {_fish_quote(condition)} " if condition else ""
    if command.positional == "file":
        return [f"complete -c {program} {where}-F"]
    if command.positional == "dir":
        return [f"complete -c {program} {where}-a '(__fish_complete_directories)'"]
    if command.positional == "choice":
        return [f"complete -c {program} {where}-a {_fish_quote(' '.join(command.choices))}"]
    return []


def _fish(commands: list[Command]) -> str:
    out = ["# fish completion (faq-kb completion fish)"]
    for program in commands:
        out.append(f"complete -c {program.name} -f")
        top = "__fish_use_subcommand" if program.subcommands else ""
        out += [_fish_option(program.name, top, o) for o in program.options]
        for sub in program.subcommands:
            out.append(
                f"complete -c {program.name} -n __fish_use_subcommand -a {sub.name}"
                + (f" -d {_fish_quote(sub.help)}" if sub.help else "")
            )
            seen = f"__fish_seen_subcommand_from {sub.name}"
            out += [_fish_option(program.name, seen, o) for o in sub.options]
            out += _fish_positional(program.name, seen, sub)
        if not program.subcommands:
            out += _fish_positional(program.name, "", program)
        out.append("")
    return "\n".join(out)
