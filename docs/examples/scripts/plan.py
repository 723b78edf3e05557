#!/usr/bin/env python
from stepup.core.api import script, static

static("count_words.py", "powers.py", "poem.txt")
script("count_words.py")
script("powers.py")
