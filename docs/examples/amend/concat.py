#!/usr/bin/env python
from stepup.core.api import amend

with open("contents.txt") as fh:
    chapters = fh.read().split()

# Tell stepup about the inputs found here. If one of them is not built yet, amend() returns
# False: stop now, stepup starts this script again once the chapter is there.
if amend(inp=chapters):
    with open("book.txt", "w") as fh:
        for chapter in chapters:
            with open(chapter) as src:
                fh.write(src.read())
