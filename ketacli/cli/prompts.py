"""Questions asked at a terminal (never without a TTY: cron and scripts are never asked)."""

from __future__ import annotations

import sys

PHQ9_PROMPTS = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself",
    "Trouble concentrating on things",
    "Moving or speaking slowly, or being fidgety or restless",
    "Thoughts that you would be better off dead or of hurting yourself",
)


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def phq9() -> list[int] | None:
    """Ask the nine PHQ-9 items on a terminal (over the last 2 weeks, 0-3). Blank skips."""
    from rich.prompt import Prompt

    from ketacli.render.out import console

    con = console(stderr=True)
    con.print("PHQ-9: over the last 2 weeks, how often has the patient been bothered by... "
              "(0 not at all, 1 several days, 2 more than half the days, 3 nearly every day; "
              "Enter on the first item skips)")
    items: list[int] = []
    for i, text in enumerate(PHQ9_PROMPTS, 1):
        while True:
            answer = Prompt.ask(f"  {i}. {text}", console=con, default="" if i == 1 else None,
                                show_default=False)
            answer = (answer or "").strip()
            if i == 1 and answer == "":
                return None
            if answer in ("0", "1", "2", "3"):
                items.append(int(answer))
                break
            con.print("    enter 0, 1, 2 or 3")
    return items
