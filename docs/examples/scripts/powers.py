#!/usr/bin/env python
from stepup.core.script import driver

# One run step per case. CASE_FMT turns the arguments of a case into text, and back.
CASE_FMT = "{:d} {:d}"


def cases():
    yield 2, 10
    yield 3, 4


def case_info(base, exponent):
    # What run() prints goes to the stdout file, an output of the run step.
    return {"stdout": f"power_{base}_{exponent}.txt", "base": base, "exponent": exponent}


def run(base, exponent):
    print(f"{base} ** {exponent} = {base**exponent}")


if __name__ == "__main__":
    driver()
