#!/bin/sh
# Build the book, then change the first chapter and build it again.
set -e
echo '$ stepup -n -w1'
stepup -n -w1
echo '$ echo "Chapter 1: a new beginning." > chapter1.txt'
echo "Chapter 1: a new beginning." > chapter1.txt
echo '$ stepup -n -w1'
stepup -n -w1
echo '$ cat book.txt'
cat book.txt
