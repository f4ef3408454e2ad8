"""A macOS (BSD) tool's refusal of GNU-only options, in front of the real GNU tool.

Run as a script by the shims ``userland`` writes (stdlib only, started with ``python -I -S``):
``bsd_guard.py NAME REAL_PATH ARGS...``. When ``ARGS`` use an option macOS's ``NAME`` does not
have, it prints the BSD tool's message and exits as macOS's tool does (1, ``grep`` 2);
otherwise it runs ``REAL_PATH`` with ``ARGS`` (``sed -i ''``, BSD's in-place without a backup,
becomes GNU's ``-i``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence

USAGE = {
    "date": (
        "usage: date [-jnRu] [-I[date|hours|minutes|seconds]] [-f input_fmt] "
        "[-r filename|seconds] [-v[+|-]val[y|m|w|d|H|M|S]] "
        "[[[[mm]dd]HH]MM[[cc]yy][.SS] | new_date] [+output_fmt]"
    ),
    "sed": (
        "usage: sed script [-Ealnru] [-i extension] [file ...]\n"
        "       sed [-Ealnu] [-i extension] [-e script] ... [-f script_file] ... [file ...]"
    ),
    "stat": "usage: stat [-FLnq] [-f format | -l | -r | -s | -x] [-t timefmt] [file|handle ...]",
    "grep": (
        "usage: grep [-abcdDEFGHhIiJLlMmnOopqRSsUVvwXxZz] [-A num] [-B num] [-C[num]]\n"
        "\t[-e pattern] [-f file] [--binary-files=value] [--color=when]\n"
        "\t[--context[=num]] [--directories=action] [--label] [--line-buffered]\n"
        "\t[--null] [pattern] [file ...]"
    ),
}
# GNU-only short options, and the options whose value is the next argument (not more flags)
REFUSED = {"date": "d", "sed": "", "stat": "c", "grep": "P"}
TAKES_VALUE = {"date": "dfrvz", "sed": "ef", "stat": "ft", "grep": "ABCDdefm"}
# macOS's grep has long options; its date, sed and stat have none
REFUSED_LONG = {"grep": ("--perl-regexp",)}
_NANOSECONDS = re.compile(r"%[-_0^#]?[0-9]*N")


class Refused(Exception):
    """An option macOS's tool does not have; the message is the tool's own first line."""


def _illegal(name: str, option: str) -> Refused:
    verb = "invalid" if name == "grep" else "illegal"
    return Refused(f"{name}: {verb} option -- {option}")


def check(name: str, args: Sequence[str]) -> list[str]:
    """The arguments for the GNU tool; raise ``Refused`` for a GNU-only option."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out += [arg, *args[i:]]
            break
        if arg.startswith("--"):
            long = arg.partition("=")[0]
            if name != "grep" or long in REFUSED_LONG["grep"]:
                raise _illegal(name, "P" if name == "grep" else "-")
            out.append(arg)
            continue
        if name == "date" and arg.startswith("+") and _NANOSECONDS.search(arg):
            raise Refused(f"date: {arg}: no %N in BSD date (macOS prints a literal N)")
        if not arg.startswith("-") or arg == "-":
            out.append(arg)
            continue
        flags = arg[1:]
        for pos, flag in enumerate(flags):
            if flag in REFUSED[name]:
                raise _illegal(name, flag)
            if name == "sed" and flag == "i":
                # BSD: -i takes a backup extension, attached or as the next argument ('' = none)
                if flags[:pos]:
                    out.append("-" + flags[:pos])
                suffix = flags[pos + 1 :]
                if not suffix:
                    if i == len(args):
                        raise Refused("sed: option requires an argument -- i")
                    suffix = args[i]
                    i += 1
                    if suffix and not suffix.startswith("."):
                        raise Refused(
                            f"sed: -i takes {suffix!r} as its backup extension on macOS: "
                            "write -i '' (no backup) or -i.bak"
                        )
                out.append("-i" + suffix)
                break
            if flag in TAKES_VALUE[name]:
                out.append(arg)
                if pos == len(flags) - 1 and i < len(args):
                    out.append(args[i])
                    i += 1
                break
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str]) -> int:
    """``NAME REAL_PATH ARGS...``: refuse like macOS, or exec the real tool."""
    name, real, *args = argv
    try:
        allowed = check(name, args)
    except Refused as exc:
        print(f"{exc}\n{USAGE[name]}", file=sys.stderr)
        return 2 if name == "grep" else 1
    os.execv(real, [name, *allowed])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
