#!/usr/bin/env python
from stepup.core.api import static, step

static("concat.py", "contents.txt", "chapter1.txt")
# The plan only knows that concat.py reads contents.txt. It finds out about the chapters itself.
step("./concat.py", inp=["concat.py", "contents.txt"], out="book.txt")
# The second chapter is made by another step, defined after the one that needs it.
step("echo 'Chapter 2: the end.' > ${out}", out="chapter2.txt")
