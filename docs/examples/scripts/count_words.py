#!/usr/bin/env python
from stepup.core.script import driver


def info():
    # One run step, which reads poem.txt and writes count.txt.
    return {"inp": "poem.txt", "out": "count.txt"}


def run(inp, out):
    with open(inp) as fh:
        words = fh.read().split()
    with open(out, "w") as fh:
        fh.write(f"{len(words)} words\n")


if __name__ == "__main__":
    driver()
