#!/bin/sh
# Pretend to need all the memory: fail if another simulation runs at the same time.
mkdir simulation.lock || exit 1
sleep 0.2
echo "Result for $1" > "$1"
rmdir simulation.lock
